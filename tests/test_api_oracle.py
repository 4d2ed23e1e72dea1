"""A hidden package cannot be told from an unknown id: not by its answer, not by the work behind it.

The visibility of a package is decided inside the catalog query (``retrieval.package_info`` with
the caller's visible levels and profiles), so asking for a hidden package and for an id that does
not exist run the same statement, get no row, and raise the same error from the same line. Proved
three ways: the SQL statements executed are the same; the Python code path (every function call,
in order) is the same; and, statistically, the time taken is the same within the noise.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from archive.api import create_app
from archive.errors import NotFound
from archive.services.context import ArchiveContext
from archive.services.retrieve import packages as retrieve
from archive.services.retrieve.usage import Caller
from tests.support.api import LEVELS, ApiArchive, build_archive

#: levels hidden from each role (docs/access.md), for the cases below
HIDDEN_FROM = {
    "anonymous": ("restricted", "confidential", "legal-hold"),
    "researcher": ("confidential", "legal-hold"),
    "auditor": ("confidential", "legal-hold"),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> ApiArchive:
    return build_archive(tmp_path_factory.mktemp("oracle"), LEVELS)


@contextmanager
def statements(ctx: ArchiveContext) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(ctx.catalog.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(ctx.catalog.engine, "before_cursor_execute", record)


def _attempt(ctx: ArchiveContext, caller: Caller, package_id: str) -> str:
    with pytest.raises(NotFound) as caught:
        retrieve.authorise(ctx, caller, package_id)
    return caught.value.message.replace(package_id, "<id>")


def _calls(fn: Callable[[], Any]) -> list[tuple[str, str]]:
    """Every Python function called while ``fn`` runs, in order (file, name)."""
    seen: list[tuple[str, str]] = []

    def profile(frame: Any, what: str, _arg: Any) -> None:
        if what == "call":
            seen.append((frame.f_code.co_filename, frame.f_code.co_name))

    collecting = gc.isenabled()
    gc.disable()  # a collection (and the callbacks it runs) may fall into either call
    sys.setprofile(profile)
    try:
        fn()
    except NotFound:
        pass
    finally:
        sys.setprofile(None)
        if collecting:
            gc.enable()
    return seen


@pytest.mark.parametrize("role, level", [(r, lv) for r, levels in HIDDEN_FROM.items() for lv in levels])
def test_hidden_and_unknown_run_the_same_statements_and_code(archive: ApiArchive, role: str, level: str) -> None:
    hidden, unknown = archive.packages[level], str(uuid.uuid4())
    caller = Caller(role, name=role, token_id=None if role == "anonymous" else archive.token_ids[role])
    with ArchiveContext(archive.settings) as ctx:
        for pid in (hidden, unknown, hidden, unknown):  # warm every cache (profiles, compiled SQL)
            _attempt(ctx, caller, pid)
        with statements(ctx) as for_hidden:
            hidden_message = _attempt(ctx, caller, hidden)
        with statements(ctx) as for_unknown:
            unknown_message = _attempt(ctx, caller, unknown)
        # the package's row, then its tombstone (a disposed package answers 410): the same two for both
        assert for_hidden == for_unknown and len(for_hidden) == 2, (for_hidden, for_unknown)
        assert hidden_message == unknown_message
        hidden_path = _calls(lambda: retrieve.authorise(ctx, caller, hidden))
        unknown_path = _calls(lambda: retrieve.authorise(ctx, caller, unknown))
        assert hidden_path == unknown_path, "a hidden package takes another code path than an unknown id"


def _paired(client: TestClient, urls: tuple[str, str], headers: dict[str, str], pairs: int) -> tuple[float, float]:
    """The median of (hidden - unknown) over ``pairs`` back-to-back pairs (order alternating), and
    the median time of one request. A pair shares the machine's load of the moment, so the
    median difference is robust to load that comes and goes (a busy two-core machine)."""
    diffs, times = [], []
    for i in range(pairs):
        took = [0.0, 0.0]
        for which in (0, 1) if i % 2 else (1, 0):
            start = time.perf_counter()
            response = client.get(urls[which], headers=headers)
            took[which] = time.perf_counter() - start
            assert response.status_code == 404
        diffs.append(took[0] - took[1])
        times.extend(took)
    return statistics.median(diffs), statistics.median(times)


@pytest.mark.parametrize("role", ["anonymous", "researcher"])
def test_a_hidden_package_answers_as_fast_as_an_unknown_id(archive: ApiArchive, role: str) -> None:
    """Hundreds of interleaved requests each: the medians differ by no more than the noise.

    The bound is generous (a loaded two-core machine), yet the gap this closed (the hidden
    package's row read, decoded and judged in Python) was a steady fraction of the request."""
    headers = archive.headers(role)
    level = HIDDEN_FROM[role][-1]
    urls = (f"/packages/{archive.packages[level]}", f"/packages/{uuid.uuid4()}")
    with TestClient(create_app(archive.settings)) as client:
        for url in urls * 50:
            client.get(url, headers=headers)
        difference, typical = _paired(client, urls, headers, pairs=400)
    assert abs(difference) <= 0.1 * typical + 50e-6, (
        f"hidden - unknown: {difference * 1e6:+.0f} µs (median of paired differences); "
        f"a request takes {typical * 1e6:.0f} µs"
    )


def test_the_hidden_answer_is_the_unknown_answer_byte_for_byte(archive: ApiArchive, tmp_path: Path) -> None:
    unknown = str(uuid.uuid4())
    with TestClient(create_app(archive.settings)) as client:
        for role, levels in HIDDEN_FROM.items():
            for level in levels:
                hidden = archive.packages[level]
                for suffix in ("", "/mets", "/events", "/files", "/files/x.pdf", "/download"):
                    a = client.get(f"/packages/{hidden}{suffix}", headers=archive.headers(role))
                    b = client.get(f"/packages/{unknown}{suffix}", headers=archive.headers(role))
                    assert a.status_code == b.status_code == 404, (role, level, suffix)
                    assert a.content.replace(hidden.encode(), b"<id>") == b.content.replace(unknown.encode(), b"<id>")
                    assert {k: v for k, v in a.headers.items() if k != "content-length"} == {
                        k: v for k, v in b.headers.items() if k != "content-length"
                    }
