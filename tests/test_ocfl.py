"""OCFL 1.1 objects written by the archive, judged by an independent validator (ocfl-py).

Every object and the storage root validate with ocfl-py; any sequence of logical states written
as versions materialises back exactly, with each distinct content stored once; a version that
is a bag materialises to a bag bagit-python accepts; a SIGKILL at every fault point of a write
leaves the old or the new version, settled and valid; two writers racing: one wins, one
VersionConflict; only archive.errors classes escape.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import multiprocessing
import os
import tempfile
from pathlib import Path

import bagit
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocfl.storage_root import StorageRoot
from ocfl.validator import Validator

from archive import faults
from archive.errors import FixityError, NotFound, StorageError
from archive.storage.ocfl import OcflRoot, User, VersionConflict
from archive.storage.ocfl import writing as ocfl_writing

OID = "urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301"
USER = User("Archive", "mailto:archive@example.org")
#: fault points of adding a version, in the order they are reached, and whether the new version is in
VERSION_POINTS = {
    "copy.midway": False,
    "copy.file-written": False,
    "ocfl.version-staged": False,
    "ocfl.before-version-rename": False,
    "ocfl.after-version-rename": True,
    "ocfl.after-inventory-rename": True,
    "ocfl.before-cleanup": True,
}
#: ... of creating an object, and whether the object is there
CREATE_POINTS = {"ocfl.before-object-rename": False, "ocfl.after-object-rename": True}


def write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def read_tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def valid_object(root: OcflRoot, object_id: str = OID) -> None:
    validator = Validator(log_warnings=True)
    assert validator.validate_object(str(root.object_path(object_id))), validator.status_str()
    assert "[W" not in validator.status_str(), validator.status_str()  # not even a warning


def valid_root(root: OcflRoot, objects: int) -> None:
    storage = StorageRoot(root=str(root.root))
    assert storage.validate(), (str(storage.log), storage.errors)
    assert (storage.num_objects, storage.good_objects) == (objects, objects), storage.errors


def new_root(tmp: Path) -> OcflRoot:
    root = OcflRoot(tmp / "ocfl")
    root.initialise()
    return root


def test_root_and_objects_validate_and_ocfl_py_reads_them(tmp_path: Path) -> None:
    root = new_root(tmp_path)
    root.initialise()  # idempotent
    one = {"a.txt": b"a", "d/dup.txt": b"a", "b": b"b"}
    two = {"a.txt": b"a", "c/e f.txt": b"changed"}
    root.create_object(OID, write_tree(tmp_path / "s1", one), message="ingest", user=USER)
    assert root.add_version(OID, write_tree(tmp_path / "s2", two), message="amend", user=USER) == 2
    valid_object(root)
    valid_root(root, 1)
    storage = StorageRoot(root=str(root.root))
    assert storage.validate()  # (list_objects needs the log validate sets up)
    assert list(storage.list_objects()) == [(str(root.object_path(OID).relative_to(root.root)), OID)]
    versions = root.versions(OID)
    assert [(v.number, v.message, v.user) for v in versions] == [(1, "ingest", USER), (2, "amend", USER)]
    assert versions[0].created.endswith("Z")
    assert versions[1].state == {k: sha512(v) for k, v in two.items()} == root.state(OID)
    assert root.content_path(OID, "a.txt", 2) == root.object_path(OID) / "v1" / "content" / "a.txt"
    assert root.content_path(OID, "c/e f.txt").read_bytes() == b"changed"
    for number, state in ((1, one), (2, two)):
        assert root.materialise(OID, tmp_path / f"out{number}", number) == {k: sha512(v) for k, v in state.items()}
        assert read_tree(tmp_path / f"out{number}") == state
    with pytest.raises(NotFound):
        root.state(OID, 3)
    with pytest.raises(NotFound):
        root.content_path(OID, "b", 2)
    with pytest.raises(NotFound):
        root.versions("urn:uuid:00000000-0000-4000-8000-000000000000")


# -- any sequence of logical states --------------------------------------------------------------

PATHS = ["a.txt", "b", "d/c.txt", "d/e/f", "x y/z", "data/é.txt"]
CONTENTS = [b"", b"1", b"22", b"abc", b"\x00\xff", b"abc" * 50]
STATES = st.lists(
    st.dictionaries(st.sampled_from(PATHS), st.sampled_from(CONTENTS), min_size=0, max_size=len(PATHS)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=STATES, precomputed=st.lists(st.booleans(), min_size=5, max_size=5))
def test_any_sequence_of_states_is_stored_once_each_and_materialises_exactly(
    tmp_path: Path, states: list[dict[str, bytes]], precomputed: list[bool]
) -> None:
    tmp = Path(tempfile.mkdtemp(dir=tmp_path))
    root = new_root(tmp)
    for number, state in enumerate(states, 1):
        source = write_tree(tmp / f"state{number}", state)
        digests = {k: sha512(v) for k, v in state.items()} if precomputed[number - 1] else None
        if number == 1:
            root.create_object(OID, source, digests=digests, message="v1", user=USER)
        else:
            assert root.add_version(OID, source, digests=digests, message=f"v{number}", user=USER) == number
    valid_object(root)
    assert root.head(OID) == len(states)
    for number, state in enumerate(states, 1):
        out = tmp / f"out{number}"
        root.materialise(OID, out, number)
        assert read_tree(out) == state
    stored = [p.read_bytes() for p in root.object_path(OID).glob("v*/content/**/*") if p.is_file()]
    expected: list[bytes] = []  # a version stores each path whose content no earlier version holds
    seen: set[bytes] = set()
    for state in states:
        fresh = [data for data in state.values() if data not in seen]
        expected += fresh
        seen |= set(fresh)
    assert sorted(stored) == sorted(expected)  # content of earlier versions is never stored again


def test_a_given_digest_of_stored_content_is_trusted_and_a_wrong_one_for_new_content_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = new_root(tmp_path)
    root.create_object(OID, write_tree(tmp_path / "s1", {"a": b"a"}), user=USER)
    copies: list[object] = []
    real = ocfl_writing.copy_and_hash
    monkeypatch.setattr(ocfl_writing, "copy_and_hash", lambda *a, **k: copies.append(a) or real(*a, **k))
    source = write_tree(tmp_path / "s2", {"a": b"a", "renamed": b"a", "new": b"n"})
    root.add_version(OID, source, digests={"a": sha512(b"a"), "renamed": sha512(b"a")}, user=USER)
    assert len(copies) == 1  # only "new" was read: what the object holds is not hashed again
    before = read_tree(root.root)
    with pytest.raises(FixityError):
        root.add_version(OID, write_tree(tmp_path / "s3", {"x": b"x"}), digests={"x": sha512(b"y")}, user=USER)
    assert read_tree(root.root) == before
    assert root.remove_leftovers() == []
    valid_object(root)


def test_a_version_that_is_a_bag_materialises_to_a_valid_bag(tmp_path: Path) -> None:
    root = new_root(tmp_path)
    first = write_tree(tmp_path / "bag1", {"image.tif": b"II*\x00" + b"x" * 100, "notes.txt": b"notes"})
    bagit.make_bag(str(first), {"Source-Organization": "Archive"}, checksums=["sha512"])
    (first / "mets.xml").write_bytes(b"<mets/>")  # a tag file, as the archive's bags carry
    bagit.Bag(str(first)).save(manifests=True)
    second = tmp_path / "bag2"
    write_tree(second, {**read_tree(first / "data"), "notes.txt": b"amended notes"})
    bagit.make_bag(str(second), {"Source-Organization": "Archive"}, checksums=["sha512"])
    root.create_object(OID, first, message="ingest", user=USER)
    root.add_version(OID, second, message="notes amended", user=USER)
    valid_object(root)
    for number in (1, 2):
        out = tmp_path / f"out{number}"
        root.materialise(OID, out, number)
        bagit.Bag(str(out)).validate()
    assert (tmp_path / "out1" / "mets.xml").read_bytes() == b"<mets/>"
    assert (tmp_path / "out2" / "data" / "notes.txt").read_bytes() == b"amended notes"


def test_materialising_checks_every_byte(tmp_path: Path) -> None:
    root = new_root(tmp_path)
    root.create_object(OID, write_tree(tmp_path / "s1", {"a": b"a", "b": b"b"}), user=USER)
    root.content_path(OID, "b").write_bytes(b"c")
    with pytest.raises(FixityError, match="does not match its sha512"):
        root.materialise(OID, tmp_path / "out")
    with pytest.raises(StorageError, match="File exists"):
        root.materialise(OID, tmp_path / "s1")  # only into a new folder


# -- crashes ----------------------------------------------------------------------------------

OLD = {"a.txt": b"old a", "keep": b"kept", "d/gone": b"removed later"}
NEW = {"a.txt": b"new a", "keep": b"kept", "d/added": b"x" * 3_000_000}  # big enough for copy.midway


def _child(fault: str, job: str, root_path: str, source: str) -> None:
    os.environ[faults.ENV] = fault
    root = OcflRoot(Path(root_path))
    try:
        if job == "create":
            root.create_object(OID, Path(source), user=USER)
        else:
            root.add_version(OID, Path(source), user=USER)
    except BaseException:
        os._exit(1)
    os._exit(0)


def _run(fault: str, job: str, root: OcflRoot, source: Path) -> int | None:
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(fault, job, str(root.root), str(source)))
    proc.start()
    proc.join(60)
    return proc.exitcode


def test_every_ocfl_fault_point_has_a_crash_case() -> None:
    ocfl_points = {p for p in faults.POINTS if p.startswith("ocfl.")}
    assert ocfl_points == {p for p in {**VERSION_POINTS, **CREATE_POINTS} if p.startswith("ocfl.")}


@pytest.mark.parametrize("point", list(VERSION_POINTS))
def test_sigkill_while_adding_a_version_leaves_the_old_or_the_new_one(point: str, tmp_path: Path) -> None:
    root = new_root(tmp_path)
    root.create_object(OID, write_tree(tmp_path / "old", OLD), user=USER)
    new = write_tree(tmp_path / "new", NEW)
    assert _run(f"{point}@2" if point == "copy.midway" else point, "version", root, new) == -9
    assert root.head(OID) in (1, 2)  # a reader, before anything is settled
    if not VERSION_POINTS[point]:
        valid_object(root)  # nothing of the new version is in the object yet
    assert read_tree(new) == NEW  # the caller's state is untouched
    root.settle(OID)
    assert root.remove_leftovers() != []  # the killed writer's staging folder
    valid_object(root)
    valid_root(root, 1)
    assert root.head(OID) == (2 if VERSION_POINTS[point] else 1)
    root.materialise(OID, tmp_path / "v1", 1)
    assert read_tree(tmp_path / "v1") == OLD
    if root.head(OID) == 1:
        assert root.add_version(OID, new, user=USER) == 2  # the write, done again
    root.materialise(OID, tmp_path / "v2", 2)
    assert read_tree(tmp_path / "v2") == NEW
    assert root.settle(OID) == ""
    valid_object(root)


def test_a_version_moved_in_is_rolled_forward_by_the_next_writer(tmp_path: Path) -> None:
    root = new_root(tmp_path)
    root.create_object(OID, write_tree(tmp_path / "old", OLD), user=USER)
    assert _run("ocfl.after-version-rename", "version", root, write_tree(tmp_path / "new", NEW)) == -9
    assert root.add_version(OID, write_tree(tmp_path / "third", {"t": b"t"}), user=USER) == 3
    valid_object(root)
    assert [v.number for v in root.versions(OID)] == [1, 2, 3]


@pytest.mark.parametrize("point", list(CREATE_POINTS))
def test_sigkill_while_creating_an_object_leaves_none_or_the_whole_one(point: str, tmp_path: Path) -> None:
    root = new_root(tmp_path)
    source = write_tree(tmp_path / "old", OLD)
    assert _run(point, "create", root, source) == -9
    assert root.exists(OID) == CREATE_POINTS[point]
    assert len(root.remove_leftovers()) == 1
    valid_root(root, int(CREATE_POINTS[point]))  # no empty hierarchy folder is left either
    if not root.exists(OID):
        root.create_object(OID, source, user=USER)
    valid_object(root)
    root.materialise(OID, tmp_path / "out", 1)
    assert read_tree(tmp_path / "out") == OLD


# -- two writers --------------------------------------------------------------------------------


def _writer(root_path: str, source: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    try:
        queue.put(("ok", OcflRoot(Path(root_path)).add_version(OID, Path(source), user=USER, expected_head=1)))
    except VersionConflict as exc:
        queue.put(("conflict", exc.message))
    except BaseException as exc:  # pragma: no cover - reported to the test
        queue.put(("error", repr(exc)))


def test_two_writers_adding_the_same_version_one_wins_one_conflicts(tmp_path: Path) -> None:
    root = new_root(tmp_path)
    root.create_object(OID, write_tree(tmp_path / "old", OLD), user=USER)
    sources = [write_tree(tmp_path / f"w{i}", {**NEW, "writer": str(i).encode()}) for i in (0, 1)]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(root.root), str(s), queue)) for s in sources]
    for proc in procs:
        proc.start()
    results = sorted(queue.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(60)
    assert [r[0] for r in results] == ["conflict", "ok"], results
    assert results[1][1] == 2 and "v1" in results[0][1]
    valid_object(root)
    winner = root.state(OID, 2)
    loser = next(s for s in sources if {k: sha512(v) for k, v in read_tree(s).items()} != winner)
    assert root.add_version(OID, loser, user=USER) == 3  # nothing lost: the loser writes after the winner
    valid_object(root)
    assert root.remove_leftovers() == []


def test_creating_an_object_twice_is_a_version_conflict(tmp_path: Path) -> None:
    root = new_root(tmp_path)
    source = write_tree(tmp_path / "old", OLD)
    root.create_object(OID, source, user=USER)
    with pytest.raises(VersionConflict):
        root.create_object(OID, source, user=USER)
    with pytest.raises(VersionConflict):
        root.add_version(OID, source, user=USER, expected_head=0)
    assert isinstance(VersionConflict("x"), StorageError)


# -- errors -------------------------------------------------------------------------------------

#: os functions the OCFL code uses; each raises while a method runs (as tests/test_boundaries.py does)
_OS_CALLS = ("stat", "lstat", "listdir", "scandir", "mkdir", "rename", "open", "fsync", "unlink", "rmdir", "pwrite")
PURE = {"object_path": "joins a path"}


def _calls(root: OcflRoot, tmp: Path) -> dict[str, object]:
    source = tmp / "old"
    return {
        "initialise": root.initialise,
        "check": root.check,
        "exists": lambda: root.exists(OID),
        "remove_leftovers": root.remove_leftovers,
        "create_object": lambda: root.create_object("urn:uuid:other", source, user=USER),
        "add_version": lambda: root.add_version(OID, source, user=USER),
        "settle": lambda: root.settle(OID),
        "inventory": lambda: root.inventory(OID),
        "versions": lambda: root.versions(OID),
        "head": lambda: root.head(OID),
        "state": lambda: root.state(OID, 1),
        "content_path": lambda: root.content_path(OID, "keep"),
        "materialise": lambda: root.materialise(OID, tmp / "out"),
        "object_path": lambda: root.object_path(OID),
    }


def test_every_method_has_a_failure_case(tmp_path: Path) -> None:
    public = {n for n, fn in vars(OcflRoot).items() if callable(fn) and not n.startswith("_")}
    assert set(_calls(OcflRoot(tmp_path), tmp_path)) == public


@pytest.mark.parametrize("err", [errno.EIO, errno.EACCES, errno.ENOSPC])
@pytest.mark.parametrize("name", sorted(_calls(OcflRoot(Path("/")), Path("/"))))
def test_file_system_refusals_are_storage_errors(tmp_path: Path, name: str, err: int) -> None:
    root = new_root(tmp_path)
    root.create_object(OID, write_tree(tmp_path / "old", OLD), user=USER)
    call = _calls(root, tmp_path)[name]
    saved = {n: getattr(os, n) for n in _OS_CALLS}
    saved_open = builtins.open  # pathlib reads through io.open, the same function

    def fail(*_: object, **__: object) -> None:
        raise OSError(err, os.strerror(err))

    try:
        for n in _OS_CALLS:
            setattr(os, n, fail)
        builtins.open = io.open = fail
        try:
            call()  # type: ignore[operator]
        finally:
            builtins.open = io.open = saved_open
            for n, fn in saved.items():
                setattr(os, n, fn)
    except StorageError as exc:
        assert os.strerror(err) in exc.message, exc.message
    except Exception as exc:
        pytest.fail(f"OcflRoot.{name} let {type(exc).__name__} escape: {exc}")
    else:
        assert name in PURE, f"{name} did not notice the failing file system"
    root.remove_leftovers()  # a refused clean-up leaves a staging leftover at most
    valid_object(root)


def test_refusals_name_the_path_and_bad_states_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = new_root(tmp_path)
    root.create_object(OID, write_tree(tmp_path / "old", OLD), user=USER)
    source = write_tree(tmp_path / "new", NEW)
    real_rename = os.rename

    def refuse_into_the_object(src: object, dst: object) -> None:
        if str(root.object_path(OID)) in str(dst):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", refuse_into_the_object)
    with pytest.raises(StorageError, match="Permission denied") as caught:
        root.add_version(OID, source, user=USER)
    assert str(root.object_path(OID)) in caught.value.message
    monkeypatch.undo()
    assert root.head(OID) == 1
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "to").symlink_to(source / "keep")
    with pytest.raises(StorageError, match="neither a file nor a folder"):
        root.add_version(OID, tmp_path / "link", user=USER)
    with pytest.raises(StorageError, match="not empty"):
        OcflRoot(source).initialise()
    with pytest.raises(StorageError):
        OcflRoot(tmp_path / "nothing").create_object(OID, source, user=USER)
    valid_object(root)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=12), _json, max_size=6), st.integers(1, 5))
def test_an_inventory_is_encoded_piece_by_piece_to_the_bytes_json_would_give(inventory, pieces):
    """The streamed encoding (never the whole text of a million-file inventory at once) is the
    indented UTF-8 JSON every reader expects, and its sidecar names that very text's sha512."""
    import json

    from archive.storage.ocfl import inventory as inv

    old, inv._ENCODE_PIECES = inv._ENCODE_PIECES, pieces
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sidecar = inv.write_pair(Path(tmp), inventory)
            data = (Path(tmp) / "inventory.json").read_bytes()
            assert (Path(tmp) / "inventory.json.sha512").read_bytes() == sidecar
    finally:
        inv._ENCODE_PIECES = old
    assert data == json.dumps(inventory, indent=2, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
    assert sidecar == f"{hashlib.sha512(data).hexdigest()}  inventory.json\n".encode()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(states=STATES, keep=st.booleans())
def test_every_stored_version_finds_each_of_its_files_whether_its_inventory_is_kept_or_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, states: list[dict[str, bytes]], keep: bool
) -> None:
    """A version records only the files stored elsewhere than its own content folder (an earlier
    version's, or one copy for equal files); every file is still found, and a big package's
    inventory, not kept, is read again for another version with the same answers."""
    import uuid

    from archive.storage import local

    monkeypatch.setattr(local, "KEEP_INVENTORY_FILES", 10**6 if keep else 0)
    storage = local.LocalStorage(Path(tempfile.mkdtemp(dir=tmp_path)) / "store")
    storage.ensure()
    pid = str(uuid.uuid4())
    held: set[str] = set()
    for number, state in enumerate(states, 1):
        work = storage.new_staging("test")
        fresh = {k: v for k, v in state.items() if sha512(v) not in held}
        changed = write_tree(work / "bag", fresh)
        digests = {k: sha512(v) for k, v in fresh.items()}
        if number == 1:
            storage.claim(work, pid)
            storage.commit(changed, pid, digests)
        else:
            carry = {k: sha512(v) for k, v in state.items() if k not in fresh}
            storage.add_version(pid, changed, digests, carry, number - 1)
        storage.discard(work)
        held |= {sha512(v) for v in state.values()}
    for number, state in reversed(list(enumerate(states, 1))):
        version = storage.version(pid, number)
        assert version.state == {k: sha512(v) for k, v in sorted(state.items())}
        assert {k: version.path(k).read_bytes() for k in state} == state
        assert all(version.holds(k) for k in state) and not version.holds("not/there")
        own = f"v{number}/content/"
        assert all(stored != own + k for k, stored in version.moved.items())  # only the others
    assert storage.version(pid).number == len(states)


def test_a_version_is_found_by_its_number_whatever_the_padding_of_its_name() -> None:
    from archive.storage.ocfl.inventory import version_of, versions_of

    block = {"created": "2026-01-01T00:00:00Z", "message": "m", "state": {"d1": ["a.txt"]}}
    for name in ("v2", "v002"):
        inventory = {"versions": {name.replace("2", "1"): {"state": {}}, name: block}}
        assert version_of(inventory, 2).state == {"a.txt": "d1"}
        assert [v.number for v in versions_of(inventory)] == [1, 2]
        assert versions_of(inventory)[1].message == "m"
