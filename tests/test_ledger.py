"""The hash-chained ledger: ingest and audit events appended (write-ahead, flock, fsync), mirrored in the
catalog and every replica; edits, removals, reorderings, truncation and catalog edits are detected."""

from __future__ import annotations

import itertools
import json
import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from archive.catalog.tables import EventRow
from archive.cli import main
from archive.errors import CatalogError
from archive.ledger import GENESIS, Ledger, parse_line, store, verify
from archive.ledger.format import KINDS
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from tests.support.audit import audit, stored


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines))


def test_ingest_and_audit_events_are_chained_mirrored_and_copied(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    audit(rctx, all=True)
    entries = [parse_line(line) for line in _lines(rctx.ledger.path)]
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev == GENESIS and all(b.prev == a.hash for a, b in itertools.pairwise(entries))
    assert entries[0].kind == "package" and entries[0].body["token"].startswith("sha256:")
    kinds = [(e.kind, e.body.get("event", {}).get("type")) for e in entries]
    assert ("event", "ingestion") in kinds and ("event", "fixity check") in kinds and kinds[-1][0] == "audit-run"
    ledgered = {e.event_id for e in entries if e.event_id}
    assert {e.identifier for e in rctx.catalog.get_package(pid).events} == ledgered
    assert _lines(rctx.ledger.copies[0]) == _lines(rctx.ledger.path)  # the replica root holds the same ledger
    report = verify_ledger(rctx)
    assert report.ok and report.problems == [] and report.copies == {"replica1": "in step"}
    assert report.head.hash == entries[-1].hash == rctx.ledger.head().hash


@pytest.mark.parametrize(
    "tamper, message",
    [
        ("edit", "edited"),
        ("remove", "removed, inserted or reordered"),
        ("reorder", "removed, inserted or reordered"),
        ("truncate", "removed from the end"),
    ],
)
def test_tampering_with_the_ledger_is_detected(sqlite_ctx, copy_fixture, tamper: str, message: str) -> None:
    ctx = sqlite_ctx
    stored(ctx, copy_fixture)
    head = ctx.ledger.head().hash
    lines = _lines(ctx.ledger.path)
    if tamper == "edit":
        data = json.loads(lines[2])
        data["body"]["event"]["outcome"] = "failure"
        lines[2] = json.dumps(data, sort_keys=True, separators=(",", ":"))
    elif tamper == "remove":
        del lines[2]
    elif tamper == "reorder":
        lines[2], lines[3] = lines[3], lines[2]
    else:
        del lines[-1]
    _write(ctx.ledger.path, lines)
    report = verify_ledger(ctx, witnessed=head)
    assert not report.ok
    assert any(message in p.message for p in report.problems), [str(p) for p in report.problems]
    if tamper == "truncate":
        assert any(p.where == "witness" for p in report.problems)  # the witnessed head is gone too


def test_a_rewritten_ledger_is_caught_by_its_witnessed_head_and_the_mirror(sqlite_ctx, copy_fixture, tmp_path) -> None:
    ctx = sqlite_ctx
    stored(ctx, copy_fixture)
    witnessed = ctx.ledger.head().hash
    # an attacker rebuilds a whole, self-consistent chain with one outcome changed
    forged = Ledger(tmp_path / "forged")
    items = []
    for line in _lines(ctx.ledger.path):
        e = parse_line(line)
        if e.kind == "event" and e.body["event"]["type"] == "validation":
            e.body["event"]["outcome"] = "failure"
        items.append((e.kind, e.body))
    forged.append(items)
    ctx.ledger.path.write_bytes(forged.path.read_bytes())
    alone = verify(ctx.ledger.lines())
    assert alone.ok  # the chain alone cannot tell ...
    report = verify_ledger(ctx, witnessed=witnessed)
    where = {p.where for p in report.problems if p.severity == "error"}
    assert {"witness", "catalog"} <= where  # ... the witnessed head and the catalog's mirror can


def test_an_edited_catalog_event_is_detected(rctx, copy_fixture) -> None:
    pid = stored(rctx, copy_fixture)
    with rctx.catalog.session() as s, s.begin():
        s.execute(
            update(EventRow)
            .where(EventRow.package_id == pid, EventRow.type == "validation")
            .values(outcome="success", outcome_detail="all good")
        )
    report = verify_ledger(rctx)
    assert not report.ok
    assert any("validation" in p.message and "differs" in p.message for p in report.problems)


def _append_many(directory: str, worker: int, count: int) -> None:
    ledger = Ledger(Path(directory))
    for i in range(count):
        ledger.append([("event", {"worker": worker, "i": i}), ("event", {"worker": worker, "i": i, "pair": 2})])


def test_concurrent_appenders_keep_one_chain(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path / "ledger"), w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    ledger = Ledger(tmp_path / "ledger")
    report = verify(ledger.lines())
    assert report.ok and report.entries == 4 * 25 * 2
    entries = [parse_line(line) for _, line in ledger.lines()]
    for a, b in itertools.pairwise(entries):  # each append's two entries stay together
        if a.body.get("pair") is None:
            assert b.body == {**a.body, "pair": 2}


def test_a_torn_last_write_is_cut_and_a_whole_one_completed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger")
    ledger.append([("event", {"n": 1})])
    with open(ledger.path, "ab") as fh:
        fh.write(b'{"body":{"n":2},"ha')  # a crash in the middle of a write
    ledger.append([("event", {"n": 3})])
    assert [parse_line(line).body["n"] for _, line in ledger.lines()] == [1, 3]
    whole = ledger.append([("event", {"n": 4})])
    ledger.path.write_bytes(ledger.path.read_bytes()[:-1])  # the newline never reached the disk
    ledger.append([("event", {"n": 5})])
    assert [parse_line(line).body["n"] for _, line in ledger.lines()] == [1, 3, 4, 5]
    assert verify(ledger.lines()).ok and whole is not None and whole.seq == 3


def test_a_lagging_replica_copy_catches_up(rctx, copy_fixture) -> None:
    stored(rctx, copy_fixture)
    copy = rctx.ledger.copies[0]
    lines = _lines(copy)
    _write(copy, lines[:-2])  # as if the replica was unreachable for the last appends
    assert verify_ledger(rctx).copies == {"replica1": "behind"} and verify_ledger(rctx).ok
    audit(rctx, all=True)
    assert _lines(copy) == _lines(rctx.ledger.path)


def test_a_failed_catalog_record_is_withdrawn_in_the_ledger(sqlite_ctx, copy_fixture, monkeypatch) -> None:
    ctx = sqlite_ctx

    def broken(*args, **kwargs):
        raise CatalogError("the catalog is down")

    monkeypatch.setattr(ctx.catalog, "record_package", broken)
    with pytest.raises(CatalogError):
        ingest(ctx, copy_fixture("submissions/heritage-minimal"), "heritage")
    entries = [parse_line(line) for line in _lines(ctx.ledger.path)]
    assert entries[0].kind == "package" and entries[-1].kind == "withdrawn"
    assert entries[-1].body["package"] == entries[0].body["package"] and "catalog is down" in entries[-1].body["reason"]
    assert list(ctx.storage.iter_package_ids()) == []  # storage rolled back as before
    assert verify_ledger(ctx).ok


def test_cli_head_and_verify(tmp_path: Path, copy_fixture) -> None:
    env = {"ARCHIVE_HOME": str(tmp_path / "home"), "ARCHIVE_WORKERS": "1"}
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    nothing = cli("ledger", "head")  # no archive at that home yet: refused, nothing created
    assert nothing.exit_code == 2 and "no archive at" in nothing.stderr and not (tmp_path / "home").exists()
    cli("ingest", str(copy_fixture("submissions/legal-minimal")), "-p", "legal")
    head = json.loads(cli("ledger", "head", "--json").stdout)
    assert head["seq"] > 1 and len(head["hash"]) == 64
    assert cli("ledger", "head").stdout.startswith(f"sha256:{head['hash']}")
    ok = cli("ledger", "verify", "--head", f"sha256:{head['hash']}")
    assert ok.exit_code == 0 and "intact" in ok.stdout
    ledger = tmp_path / "home" / "storage" / "extensions" / "archive-ledger" / "ledger.jsonl"
    lines = _lines(ledger)
    _write(ledger, lines[:1] + lines[2:])
    bad = cli("ledger", "verify", "--json")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["ok"] is False
    assert cli("ledger", "verify", "--head", "0" * 64).exit_code == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=4), chunk=st.integers(1, 4))
def test_appends_written_in_chunks_make_one_chain(tmp_path_factory, monkeypatch, counts, chunk) -> None:
    """However many items an append brings and however they are chunked, the ledger is one
    unbroken chain in order, every copy identical, and the head returned is its last entry."""
    monkeypatch.setattr(store, "CHUNK", chunk)
    folder = tmp_path_factory.mktemp("chunks")
    ledger = Ledger(folder / "main", [folder / "copy"])
    n = 0
    for count in counts:
        items = (("event", {"n": n + i}) for i in range(count))  # a generator: never a list in hand
        head = ledger.append(items)
        n += count
        assert (head is None) == (count == 0) and (head is None or head.seq == n)
    bodies = [parse_line(line).body["n"] for _, line in ledger.lines()]
    assert bodies == list(range(n)) and verify(ledger.lines()).ok
    if n:
        assert (folder / "copy" / ledger.path.name).read_bytes() == ledger.path.read_bytes()


def test_appending_nothing_touches_nothing(tmp_path: Path) -> None:
    """An append of no items (a change that made no event) neither takes the lock nor writes:
    not even a new ledger's file or lock appears."""
    ledger = Ledger(tmp_path / "ledger", [tmp_path / "copy"])
    assert ledger.append(iter(())) is None and ledger.append([]) is None
    assert not (tmp_path / "ledger").exists() or not any((tmp_path / "ledger").iterdir())
    assert not (tmp_path / "copy").exists()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10**12),
    st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    st.sampled_from(KINDS),
    st.dictionaries(st.text(max_size=8), _json, max_size=5),
)
def test_a_new_entry_is_stored_exactly_as_its_canonical_encoding(seq, prev, kind, body) -> None:
    """An entry's line and hash are made from one encoding of its body: they must be what the
    canonical encoding of its fields gives, and what verification recomputes from the line."""
    from datetime import UTC, datetime

    from archive.ledger.format import canonical, make_entry

    entry = make_entry(seq, prev, kind, body, datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    assert entry.line == canonical({**entry.fields(), "hash": entry.hash}).decode("utf-8")
    assert entry.hash == entry.computed_hash()
    again = parse_line(entry.line)
    assert again == entry and again.computed_hash() == entry.hash
