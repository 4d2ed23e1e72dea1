"""A big package's METS in parts: ``mets.xml`` for the package, parts under ``mets/`` for its files.

What a user relies on: every document is schema-valid and the set reads back as the package it
describes (generated packages, any chunk size); cutting into chunks is local (one file added or
withdrawn changes at most the chunks around it); a version that does not touch the files
carries every part, so a metadata amendment stores ``mets.xml``, not a description of every file
again; every version of a package in parts still exports as a bag bagit-python validates, audits
clean, and ``reindex`` rebuilds it; a root that points anywhere but to its own parts is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import bagit
import ocfl
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from archive.api import create_app
from archive.catalog.maintenance import Maintenance
from archive.errors import PackagingError
from archive.model import (
    EVENT_FORMAT_IDENTIFICATION,
    EVENT_MESSAGE_DIGEST,
    OUTCOME_SUCCESS,
    Event,
    EventLink,
    FileRecord,
    FormatInfo,
    Package,
)
from archive.packaging.mets import parts
from archive.packaging.mets import write as write_module
from archive.packaging.mets.parts import chunk_files, is_part_name, part_name
from archive.packaging.mets.read import read_mets
from archive.packaging.mets.validate import validate_mets
from archive.packaging.mets.write import iter_mets, part_fingerprints, write_mets, write_mets_set
from archive.services.context import ArchiveContext
from archive.services.ingest.run import ingest
from archive.services.lifecycle import changes
from archive.services.lifecycle.versions import Actor
from archive.services.recovery.reindex import reindex
from archive.services.retrieve import tokens
from archive.services.retrieve.export import export
from tests.conftest import make_settings
from tests.support.audit import HERITAGE, audit
from tests.test_lifecycle import _metadata
from tests.test_mets import PKG_ID, make_package, packages

ALICE = Actor("alice", "archivist")
PART = 3  # files per part in the end-to-end tests
EVENT_2 = b">00000002-1111-4222-8333-444444444444<"  # make_package's digest event: about every file


# -- the documents ---------------------------------------------------------------------------------
@st.composite
def packages_with_file_events(draw: st.DrawFn) -> Package:
    """A generated package whose files each have an event of their own, plus an event about some
    files in order, and about files the package no longer has (withdrawn)."""
    pkg: Package = draw(packages())
    paths = [f.path for f in pkg.files]
    when = pkg.events[0].datetime
    for n, path in enumerate(paths):
        pkg.events.append(Event(f"id-{n}", EVENT_FORMAT_IDENTIFICATION, when, "fido", OUTCOME_SUCCESS, "", [], [path]))
    some = [p for p in paths if draw(st.booleans())]
    gone = draw(st.lists(st.sampled_from(["gone/a.txt", "gone/b.txt"]), unique=True))
    link = EventLink(pkg.agents[0].identifier, "executing program")
    pkg.events.append(Event("digests", EVENT_MESSAGE_DIGEST, when, "sha256", OUTCOME_SUCCESS, "", [link], some + gone))
    return pkg


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packages_with_file_events(), st.integers(1, 4))
def test_a_package_in_parts_round_trips(package: Package, part_files: int) -> None:
    documents = write_mets_set(package, part_files)
    assert (len(documents.parts) > 0) == (len(package.files) > part_files)
    for name, body in documents.items():
        assert validate_mets(body, name) == [], name
    assert all(is_part_name(name) for name, _ in documents.parts)
    assert read_mets(documents.root, validate=True, parts=dict(documents.parts).__getitem__) == package
    if not documents.parts:
        assert documents.root == write_mets(package)  # a small package: one document, as always


def test_a_package_in_parts_is_read_one_part_at_a_time(monkeypatch) -> None:
    """Reading (reindex, doctor) takes each part's files and events before the next part is even
    read: a million-file package is a thousand parts, and their trees together would not fit."""
    from archive.packaging.mets import read as read_module

    package = make_package()
    documents = write_mets_set(package, 1)
    assert len(documents.parts) >= 3
    order: list[str] = []
    taken = read_module._Reading.take

    def take(self, doc) -> None:
        order.append(f"take {doc.get('TYPE')}")
        taken(self, doc)

    def part(name: str) -> bytes:
        order.append("read part")
        return dict(documents.parts)[name]

    monkeypatch.setattr(read_module._Reading, "take", take)
    assert read_mets(documents.root, parts=part) == package
    assert order == ["take AIP"] + ["read part", "take AIP part"] * len(documents.parts)


@pytest.fixture(scope="module")
def part_makers():
    from archive.subprocesses import worker_pool

    pool = worker_pool(2)
    yield pool
    pool.shutdown()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(packages_with_file_events(), st.integers(1, 3), st.data())
def test_parts_made_by_worker_processes_are_the_same_documents(part_makers, package, part_files, data) -> None:
    """A big ingest has its parts made by worker processes, a few ahead: the same documents in
    the same order, the carried parts (the version before's, unchanged) left out the same way."""
    here = list(iter_mets(package, part_files))
    assume(len(here) > 1)  # a package in parts: the workers have something to make
    prints = part_fingerprints(package, part_files)
    held = {name: fp for name, fp in prints.items() if data.draw(st.booleans())}
    assert list(iter_mets(package, part_files, pool=part_makers)) == here
    assert list(iter_mets(package, part_files, held, pool=part_makers)) == list(iter_mets(package, part_files, held))


def test_a_part_a_worker_cannot_make_is_refused_as_here(part_makers) -> None:
    package = make_package()
    package.files[-1].original_name = "bad\x01name"
    with pytest.raises(PackagingError) as here:
        list(iter_mets(package, 1))
    with pytest.raises(PackagingError) as there:
        list(iter_mets(package, 1, pool=part_makers))
    assert there.value.message == here.value.message and "U+0001" in here.value.message


def test_storing_writes_each_document_valid_in_order_and_stops_at_the_first_invalid(tmp_path: Path) -> None:
    """Each document is validated and written while the next is made, but in order: what is in
    the bag is every document before the first invalid one, each with the digests of its bytes,
    and nothing after it."""
    import hashlib

    documents = list(iter_mets(make_package(), 1))
    assert len(documents) >= 4
    good = tmp_path / "good"
    stored = parts.store_mets(iter(documents), good, ["sha256"])
    assert stored.root == documents[0][1] and stored.names == [name for name, _ in documents]
    for name, body in documents:
        assert (good / name).read_bytes() == body
        assert stored.digests[name] == {"sha256": hashlib.sha256(body).hexdigest()}

    made: list[str] = []

    def broken():
        for n, (name, body) in enumerate(documents):
            made.append(name)
            yield name, (body.replace(b"<mets:amdSec", b"<mets:amd", 1) if n == 2 else body)

    bad = tmp_path / "bad"
    with pytest.raises(PackagingError, match=documents[2][0]):
        parts.store_mets(broken(), bad, ["sha256"])
    written = sorted(str(f.relative_to(bad)) for f in bad.rglob("*.xml"))
    assert written == sorted(name for name, _ in documents[:2])
    assert len(made) <= 4  # at most the one after the invalid document was made meanwhile


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(st.characters(codec="utf-8"), min_size=1, max_size=8), unique=True, max_size=200),
    st.integers(1, 8),
    st.data(),
)
def test_cutting_into_chunks_is_local(paths: list[str], target: int, data: st.DataObject) -> None:
    chunks = chunk_files(paths, target)
    assert [i for c in chunks for i in c] == list(range(len(paths)))  # every file once, in order
    assert all(0 < len(c) <= 4 * target for c in chunks)
    names = {tuple(paths[i] for i in c) for c in chunks}
    # one file withdrawn or added anywhere: every chunk but at most two stays exactly as it was
    if paths:
        at = data.draw(st.integers(0, len(paths) - 1))
        changed = [p for n, p in enumerate(paths) if n != at]
    else:
        changed = []
    added = data.draw(st.text(min_size=9, max_size=12).filter(lambda p: p not in paths))
    grown = [*paths[: len(paths) // 2], added, *paths[len(paths) // 2 :]]
    for other in (changed, grown):
        after = {tuple(other[i] for i in c) for c in chunk_files(other, target)}
        assert len(after - names) <= 2 and len(names - after) <= 2 + (len(paths) // (4 * target) > 0)


def test_parts_depend_only_on_their_files() -> None:
    """What a metadata amendment changes is in mets.xml; every part's bytes stay the same."""
    package = make_package()
    before = write_mets_set(package, 2)
    package.metadata["title"] = "Corrected"
    package.version, package.version_created = 2, package.created
    package.events.append(
        Event("amend-1", "metadata modification", package.created, "title", OUTCOME_SUCCESS, "", [], [PKG_ID])
    )
    after = write_mets_set(package, 2)
    assert after.parts == before.parts and after.root != before.root


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packages_with_file_events(), st.integers(1, 3), st.data())
def test_a_part_with_the_fingerprint_of_the_version_befores_is_the_same_part(
    package: Package, part_files: int, data: st.DataObject
) -> None:
    """Carrying a part by its fingerprint is safe: equal fingerprints, equal bytes, whatever the
    change; a change of the package's metadata alone changes no fingerprint."""
    before = dict(write_mets_set(package, part_files).parts)
    prints = part_fingerprints(package, part_files)
    assert set(prints) == set(before)
    assert all(body is None for name, body in iter_mets(package, part_files, prints) if name != "mets.xml")
    change = data.draw(st.sampled_from(["metadata", "format", "event", "size"]))
    if change == "metadata" or not package.files:
        package.metadata["title"] = "Corrected"
    elif change == "format":
        package.files[-1].format = FormatInfo("fmt/999", "Changed")
    elif change == "size":
        package.files[0].size += 1
    else:
        link = EventLink(package.agents[0].identifier, "executing program")
        when = package.events[0].datetime
        package.events.append(
            Event("later", EVENT_MESSAGE_DIGEST, when, "", OUTCOME_SUCCESS, "", [link], [package.files[0].path])
        )
    after = dict(write_mets_set(package, part_files).parts)
    for name, fingerprint in part_fingerprints(package, part_files).items():
        if prints.get(name) == fingerprint:
            assert after[name] == before[name], name
    if change == "metadata" or not package.files:
        assert part_fingerprints(package, part_files) == prints


def _pointing_to(href: str, body: bytes | None = None) -> tuple[bytes, dict[str, bytes]]:
    documents = write_mets_set(make_package(), 2)
    first = documents.parts[0][0]
    root = documents.root.replace(f'xlink:href="{first}"'.encode(), f'xlink:href="{href}"'.encode())
    found = dict(documents.parts)
    if body is not None:
        found[href] = body
    return root, found


@pytest.mark.parametrize(
    ("href", "message"),
    [
        ("../../../etc/passwd", "does not name a METS part"),
        ("/etc/passwd", "does not name a METS part"),
        ("mets/files-0123456789abcdef.xml", "cannot read METS part"),
        ("mets/%2E%2E/files-0123456789abcdef.xml", "does not name a METS part"),
        ("data/files-0123456789abcdef.xml", "does not name a METS part"),
    ],
)
def test_a_root_pointing_outside_its_parts_is_refused(href: str, message: str) -> None:
    root, found = _pointing_to(href)

    def load(name: str) -> bytes:
        if name not in found:
            raise FileNotFoundError(2, "No such file or directory")
        return found[name]

    with pytest.raises(PackagingError, match=message):
        read_mets(root, parts=load)


def test_tampered_parts_are_refused() -> None:
    documents = write_mets_set(make_package(), 2)
    (first, body), (second, _) = documents.parts[0], documents.parts[1]
    twice = documents.root.replace(f'xlink:href="{second}"'.encode(), f'xlink:href="{first}"'.encode())
    cases = {
        "pointed to twice": (twice, dict(documents.parts)),
        "is not package": (documents.root, {**dict(documents.parts), first: body.replace(PKG_ID.encode(), b"x")}),
        "not a METS document of TYPE": (
            documents.root,
            {**dict(documents.parts), first: body.replace(b"AIP part", b"AIP")},
        ),
        "which no document describes": (
            documents.root,
            {
                **dict(documents.parts),
                first: body.replace(
                    b">00000002-1111-4222-8333-444444444444<", b">00000009-1111-4222-8333-444444444444<"
                ),
            },
        ),
    }
    assert (
        b">00000002-1111-4222-8333-444444444444<" in body
    )  # a file object links to the package-wide event it took part in
    for message, (root, found) in cases.items():
        with pytest.raises(PackagingError, match=message):
            read_mets(root, parts=found.__getitem__)
    with pytest.raises(PackagingError, match="read it with its bag's parts"):
        read_mets(documents.root)
    assert part_name("a") != part_name("b") and is_part_name(part_name("any/path"))


# -- a package in parts through its whole life --------------------------------------------------
def _submission(copy_fixture, files: int) -> Path:
    sub = copy_fixture(HERITAGE)
    for n in range(files):
        folder = sub / "letters" / f"box-{n % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"letter-{n:03d}.txt").write_text(f"letter {n}\n", encoding="utf-8")
    return sub


def _new_in(ctx: ArchiveContext, pid: str, version: int) -> set[str]:
    """The METS parts a version stored anew (the rest it carries from earlier versions)."""
    folder = ctx.storage.path_of(pid) / f"v{version}" / "content" / "mets"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _parts_of(ctx: ArchiveContext, pid: str, version: int) -> set[str]:
    return {p.split("/")[-1] for p in ctx.storage.version(pid, version).state if p.startswith("mets/")}


def _changes_few_parts(ctx: ArchiveContext, pid: str, version: int) -> None:
    """The version's parts: those of the version before, but for at most two stored anew."""
    new, before, now = _new_in(ctx, pid, version), _parts_of(ctx, pid, version - 1), _parts_of(ctx, pid, version)
    assert (new or now != before) and len(new) <= 2 and now - new <= before


def test_a_package_in_parts_lives_its_whole_life(rctx, copy_fixture, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(parts, "PART_FILES", PART)
    pid = ingest(rctx, _submission(copy_fixture, 16), "heritage").package_id
    bag = rctx.storage.original_bag(pid)
    bagit.Bag(str(bag)).validate()
    in_parts = read_mets(bag / "mets.xml", validate=True)
    assert {f.path: f.digests for f in in_parts.files} == {
        f.path: f.digests for f in rctx.catalog.get_package(pid).files
    }
    written = sorted(p.name for p in (bag / "mets").iterdir())
    assert len(written) >= 3
    root = (bag / "mets.xml").read_bytes()
    assert b"format identification" not in root and b"techmd-file-" not in root  # the files are in the parts

    made: list[str] = []
    real_make = write_module._Part.make
    monkeypatch.setattr(write_module._Part, "make", lambda self: made.append("part") or real_make(self))
    assert changes.amend(rctx, pid, _metadata(tmp_path, title="Corrected"), "typo", ALICE).version == 2
    assert _new_in(rctx, pid, 2) == set()  # every part carried: the amendment wrote mets.xml only
    assert made == []  # and did not make any part again to find out
    changes.withdraw_files(rctx, pid, ["letters/box-1/letter-004.txt"], "misfiled", ALICE)
    _changes_few_parts(rctx, pid, 3)
    assert len(made) <= 2  # at most the parts around the withdrawn file
    before_add = len(made)
    extra = tmp_path / "more"
    (extra / "letters" / "box-0").mkdir(parents=True)
    (extra / "letters" / "box-0" / "letter-100.txt").write_text("one more\n", encoding="utf-8")
    changes.add_files(rctx, pid, extra, "found later", ALICE)
    _changes_few_parts(rctx, pid, 4)
    assert 1 <= len(made) - before_add <= 2  # the part the new file went into, made again
    changes.set_access(rctx, pid, "restricted", "donor asked", ALICE)
    assert _new_in(rctx, pid, 5) == set()

    for version in range(1, 6):
        dest = tmp_path / f"export-v{version}"
        export(rctx, pid, dest, version)
        bagit.Bag(str(dest)).validate()
        read_back = read_mets(dest / "mets.xml", validate=True)
        assert sorted(f.path for f in read_back.files) == sorted(
            f.path for f in rctx.catalog.get_package(pid, version).files
        )
    for storage in rctx.all_storage:
        assert ocfl.StorageRoot(root=str(storage.root)).validate()
    result = audit(rctx, package_ids=[pid])
    assert result.exit_status == 0, [f.line() for f in result.findings]

    versions = [{k: v for k, v in d.as_dict().items() if k != "created"} for d in rctx.catalog.versions(pid)]
    files = {n: sorted(f.path for f in rctx.catalog.get_package(pid, n).files) for n in range(1, 6)}
    events = {e.identifier: sorted(e.objects) for e in rctx.catalog.get_package(pid).events}
    Maintenance(rctx.catalog).wipe()
    reindex(rctx)
    assert [{k: v for k, v in d.as_dict().items() if k != "created"} for d in rctx.catalog.versions(pid)] == versions
    assert {n: sorted(f.path for f in rctx.catalog.get_package(pid, n).files) for n in range(1, 6)} == files
    assert {e.identifier: sorted(e.objects) for e in rctx.catalog.get_package(pid).events} == events
    result = audit(rctx, package_ids=[pid])  # the rebuilt catalog agrees with storage and the ledger
    assert result.exit_status == 0, [f.line() for f in result.findings]


def test_the_api_serves_each_part_the_root_names(tmp_path: Path, copy_fixture, monkeypatch) -> None:
    monkeypatch.setattr(parts, "PART_FILES", PART)
    settings = make_settings(tmp_path / "home")
    with ArchiveContext(settings) as ctx:
        pid = ingest(ctx, _submission(copy_fixture, 10), "heritage").package_id
        bag = ctx.storage.original_bag(pid)
        names = sorted(p.name for p in (bag / "mets").iterdir())
        _, token = tokens.create(ctx, "reader", "researcher")
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        root = client.get(f"/packages/{pid}/mets", headers=auth)
        assert root.status_code == 200
        for name in names:
            assert f'xlink:href="mets/{name}"'.encode() in root.content
            r = client.get(f"/packages/{pid}/mets/{name}", headers=auth)
            assert r.status_code == 200, r.text
            assert r.content == (bag / "mets" / name).read_bytes()
            assert r.headers["content-type"].startswith("application/xml")
        for bad in ("files-0000000000000000.xml", "..%2Fmets.xml", "bag-info.txt"):
            assert client.get(f"/packages/{pid}/mets/{bad}", headers=auth).status_code == 404
    shutil.rmtree(tmp_path / "home")


def test_writing_the_parts_reports_the_files_described(tmp_path) -> None:
    """Writing a big package's METS says how far it is: after each part, the files described so
    far, rising to every file."""
    package = make_package()
    first = package.files[0]
    package.files += [
        FileRecord(f"more/file-{i:02d}.txt", first.size, dict(first.digests), first.format) for i in range(40)
    ]
    total = len(package.files)
    reports: list[tuple[int, int]] = []
    documents = list(iter_mets(package, part_files=5, progress=lambda done, total: reports.append((done, total))))
    assert len(documents) > 2 and reports[0] == (0, total) and reports[-1] == (total, total)
    assert [d for d, _ in reports] == sorted(d for d, _ in reports) and len(reports) == len(documents)


#: changes that may break a written document: (what is replaced, by what)
BREAKS = [
    (b'FILEID="', b'FILEID="nowhere-'),  # an IDREF naming no ID
    (b' ID="techmd-', b' ID="other-'),  # an ID that references name, gone
    (b' ID="dmd-', b' ID="other-'),
    (b'SIZE="', b'SIZE="x'),  # not a number: the schema refuses it
    (b"<mets:amdSec", b"<mets:amd"),  # an element the schema does not know
    (b"</mets:mets>", b""),  # not well-formed: cut short
    (b"</mets:amdSec>", b""),
    (b"</mets:file>", b"</mets:fil>"),
    (b"<mets:structMap", b"<!DOCTYPE x><mets:structMap"),  # what the archive never writes
    (b'ID="', b'ID="7'),  # an ID that is no NCName
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packages_with_file_events(), st.integers(1, 3), st.data())
def test_the_streaming_check_of_a_written_document_decides_as_the_whole_document_check(
    package: Package, part_files: int, data: st.DataObject
) -> None:
    """What ingest checks while it parses (holding one section at a time) accepts every document
    the writer makes without falling back to the whole-document check, and refuses, with the
    same message, exactly what the whole-document check refuses."""
    from archive.packaging.mets import validate

    documents = write_mets_set(package, part_files).items()
    for _, body in documents:
        assert validate._streamed_references(body)  # a valid document needs no second parse
    name, body = data.draw(st.sampled_from(documents))
    old, new = data.draw(st.sampled_from(BREAKS))
    if old in body:
        nth = data.draw(st.integers(0, body.count(old) - 1))
        at = -1
        for _ in range(nth + 1):
            at = body.index(old, at + 1)
        body = body[:at] + new + body[at + len(old) :]
    outcomes = []
    for check in (validate.assert_valid_mets, validate.assert_valid_streaming):
        try:
            check(body, name)
            outcomes.append(None)
        except PackagingError as exc:
            outcomes.append(exc.message)
    assert outcomes[0] == outcomes[1]
