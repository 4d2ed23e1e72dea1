"""The error tree is whole: every exception class of archive/ is in it (or a named internal
signal), drawn in errors.py's docstring and docs/cli.md, with its own code that is no finding
code, an HTTP status and an exit status; the CLI's --json errors are the API's error documents."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import archive
from archive import errors
from archive.cli import main
from archive.errors import EXIT_STATUS, HTTP_STATUS, INTERNAL_SIGNALS, ArchiveError, exit_status, http_status

REPO = Path(__file__).resolve().parent.parent
#: alembic's migration environment runs only under alembic
NOT_IMPORTABLE = ("archive.catalog.migrations",)
DRAWN = re.compile(r"^    ([│├└─ ]*?)(\w+)\s+(E\d{3})\s+(\d{3})\s+(\d)\s+\S", re.MULTILINE)
CODE_LITERAL = re.compile(r"""["']([EW]\d{3})["']""")
#: an error class's own code, or a docstring or comment showing an error document
CLASS_CODE_LINE = re.compile(r"""^\s+code = ["'](E\d{3})["']\s*$|^\s*(#|\{"error")""")


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in sorted(_module_names()):
        if name.startswith(NOT_IMPORTABLE):
            continue
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == name:
                found[f"{obj.__module__}:{obj.__qualname__}"] = obj
    return list(found.values())


def _module_names() -> set[str]:
    """Every module of archive/: pkgutil's walk, and the files of folders without ``__init__.py``
    (namespace packages, which the walk does not enter)."""
    names = {info.name for info in pkgutil.walk_packages(archive.__path__, "archive.")}
    for path in (REPO / "archive").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


CLASSES = _exception_classes()
TREE = [c for c in CLASSES if issubclass(c, ArchiveError)]


def _drawn() -> dict[str, tuple[str | None, str, int, int]]:
    """name -> (parent, code, HTTP, exit) from errors.py's docstring drawing."""
    out: dict[str, tuple[str | None, str, int, int]] = {}
    stack: list[str] = []
    for prefix, name, code, http, exit_ in DRAWN.findall(errors.__doc__ or ""):
        depth = len(prefix) // 4
        del stack[depth:]
        out[name] = (stack[-1] if stack else None, code, int(http), int(exit_))
        stack.append(name)
    return out


def _finding_codes() -> set[str]:
    """Every E/W code used in archive/ except on an error class's ``code = ...`` line."""
    codes: set[str] = set()
    for path in (REPO / "archive").rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not CLASS_CODE_LINE.match(line):
                codes.update(CODE_LITERAL.findall(line))
    return codes


def test_the_walk_finds_the_tree_and_its_subclasses_elsewhere() -> None:
    names = {c.__name__ for c in TREE}
    assert {"ArchiveError", "ArchiveNotFound", "CatalogNotEmpty", "AlreadyRecorded", "UnsafeFile"} <= names


def test_every_exception_class_is_in_the_tree_or_a_named_internal_signal() -> None:
    outside = {f"{c.__module__}:{c.__qualname__}" for c in CLASSES if not issubclass(c, ArchiveError)}
    assert outside == set(INTERNAL_SIGNALS), (
        "an exception class of archive/ must subclass an ArchiveError class, or be listed in "
        "archive.errors.INTERNAL_SIGNALS with where it is caught"
    )


def test_every_error_class_is_drawn_with_its_parent_code_and_statuses() -> None:
    drawn = _drawn()
    assert set(drawn) == {c.__name__ for c in TREE}, "errors.py's docstring draws exactly the tree"
    for cls in TREE:
        parent, code, http, exit_ = drawn[cls.__name__]
        base = next((b for b in cls.__bases__ if issubclass(b, ArchiveError)), None)
        assert parent == (base.__name__ if base else None), cls
        assert (cls.code, http_status(cls), exit_status(cls)) == (code, http, exit_), cls


def test_every_class_has_its_own_code_unique_and_never_a_finding_code() -> None:
    for cls in TREE:
        assert "code" in vars(cls), f"{cls.__name__} has no code of its own"
        assert re.fullmatch(r"E\d{3}", cls.code), cls
    codes = [c.code for c in TREE]
    assert len(codes) == len(set(codes)), sorted(codes)
    findings = _finding_codes()
    assert "E101" in findings and "W201" in findings  # the scan sees finding codes
    assert not set(codes) & findings, f"class codes that are also finding codes: {set(codes) & findings}"


def test_every_class_has_an_http_status_and_an_exit_status_from_one_table() -> None:
    for cls in TREE:
        assert any(c in HTTP_STATUS for c in cls.__mro__) and any(c in EXIT_STATUS for c in cls.__mro__)
    from archive.api.errors import STATUS, status_for
    from archive.cli import EXIT_REJECTED, EXIT_UNAVAILABLE, EXIT_USAGE
    from archive.cli import EXIT_STATUS as CLI_TABLE

    assert STATUS is HTTP_STATUS and CLI_TABLE is EXIT_STATUS
    assert set(EXIT_STATUS.values()) <= {EXIT_REJECTED, EXIT_USAGE, EXIT_UNAVAILABLE}
    assert status_for(errors.NotFound("x")) == 404


def test_docs_cli_lists_every_class_as_the_tables_say() -> None:
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text.split("<!-- error classes -->", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \|(?: `(\w+)`)? \| `(E\d{3})` \| (\d) \| (\d{3}) \|$", table, re.MULTILINE)
    drawn = _drawn()
    listed = {name: (parent or None, code, int(http), int(exit_)) for name, parent, code, exit_, http in rows}
    assert listed == drawn, "docs/cli.md's table of error classes differs from archive/errors.py"


# -- one JSON shape: the CLI's --json error is the API's error document -----------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    from archive.config import load_settings
    from archive.services.context import ArchiveContext

    ctx = ArchiveContext(load_settings(env={"ARCHIVE_HOME": str(tmp_path / "home")}))
    assert ctx.create_archive()
    ctx.close()
    return tmp_path / "home"


def _api(home: Path) -> TestClient:
    from archive.api.app import create_app
    from archive.config import load_settings

    return TestClient(create_app(load_settings(env={"ARCHIVE_HOME": str(home)})))


def test_unknown_package_is_the_same_error_document_in_the_cli_and_the_api(home: Path) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    result = CliRunner().invoke(main, ["--home", str(home), "show", unknown, "--json"])
    assert result.exit_code == 1, result.output
    cli_document = json.loads(result.stdout)
    with _api(home) as client:
        answer = client.get(f"/packages/{unknown}")
    assert answer.status_code == 404
    api_document = answer.json()
    assert cli_document["ok"] is False and set(cli_document) == {"ok", "error"} and set(api_document) == {"error"}
    cli_error, api_error = cli_document["error"], api_document["error"]
    # the same error object; only the words differ (the API says the same of a hidden package)
    assert {**cli_error, "message": ""} == {**api_error, "message": ""}
    assert api_error["code"] == "E002" and api_error["type"] == "NotFound" and api_error["status"] == 404
    assert cli_error["message"].startswith(f"no package {unknown}") and api_error["message"] == f"no package {unknown}"


def test_rejected_input_carries_its_findings_in_the_one_shape() -> None:
    finding = errors.error("E101", "x", "does not exist")
    document = errors.error_document(errors.SubmissionRejected("submission x was rejected", [finding]))
    assert document == {
        "error": {
            "code": "E111",
            "type": "SubmissionRejected",
            "status": 422,
            "message": "submission x was rejected: 1 problem(s)",
            "findings": [finding.as_dict()],
        }
    }
