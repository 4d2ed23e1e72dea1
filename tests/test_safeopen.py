"""The one way in (archive/submission/safeopen.py): links, FIFOs, sockets, devices and folders are
refused without blocking and without a byte read; sizes are judged before reading; a file that
grows or is replaced is refused; no OSError escapes; the tree walk has no recursion."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archive.errors import ArchiveError
from archive.submission.safeopen import UnsafeFile, open_regular, printable, read_bounded, walk_tree

SECRET = b"CANARY-safeopen-7c1e0b9d"


def no_hang(action: Callable[[], Any], fifos: list[Path] = (), timeout: float = 10.0) -> Any:  # type: ignore[assignment]
    """Run ``action``; if it is still running after ``timeout`` (blocked on a FIFO), open each
    FIFO for writing to release it, and fail."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = action()
        except BaseException as exc:
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        worker.join(5)
        pytest.fail(f"blocked for more than {timeout} s")
    if "error" in result:
        raise result["error"]
    return result.get("value")


def make_deep(root: Path, depth: int, leaf: str) -> None:
    """``root``/d/d/.../d/``leaf``, ``depth`` folders deep, made without recursion (``Path.mkdir``
    recurses) and relative to open folders (so no path is ever longer than a name)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            try:
                os.mkdir("d", dir_fd=fd)
            except FileExistsError:
                pass
            below = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = below
        os.close(os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def remove_deep(root: Path, depth: int, leaf: str) -> None:
    """Undo :func:`make_deep` bottom-up (pytest's clean-up of ``tmp_path`` recurses)."""
    os.unlink(os.path.join(root, *["d"] * depth, leaf))
    for level in range(depth, 0, -1):
        os.rmdir(os.path.join(root, *["d"] * level))


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.txt"
    path.parent.mkdir()
    path.write_bytes(SECRET + b"\n")
    return path


def refused(action: Callable[[], Any], kind: str, code: str) -> UnsafeFile:
    with pytest.raises(UnsafeFile) as raised:
        no_hang(action)
    exc = raised.value
    assert (exc.kind, exc.finding.code) == (kind, code), exc.finding
    assert isinstance(exc, ArchiveError) and exc.findings == [exc.finding]
    assert SECRET.decode() not in str(exc) and SECRET.decode() not in exc.finding.message
    return exc


def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "f").write_bytes(data)
    assert read_bounded(tmp_path / "f", len(data), "f") == data
    with open_regular(tmp_path / "f", "f") as stream:
        assert stream.read(10) == data[:10]
        buffer = bytearray(100)
        assert stream.readinto(buffer) == 100 and bytes(buffer) == data[10:110]
        assert stream.read() == data[110:]
        assert stream.read() == b""
        os.fstat(stream.fileno())  # a real descriptor, for callers that check it


def test_links_are_refused_never_followed(tmp_path: Path, canary: Path) -> None:
    (tmp_path / "link").symlink_to(canary)
    refused(lambda: read_bounded(tmp_path / "link", 1000, "link"), "link", "E137")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    refused(lambda: open_regular(tmp_path / "dangling", "dangling"), "link", "E137")
    (tmp_path / "dirlink").symlink_to(canary.parent)
    refused(lambda: open_regular(tmp_path / "dirlink", "dirlink"), "link", "E137")


def test_a_link_on_the_way_is_caught_by_the_identity(tmp_path: Path, canary: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "secret.txt").write_bytes(b"listed\n")
    listed = os.stat(real / "secret.txt")
    real.rename(tmp_path / "moved")
    real.symlink_to(canary.parent)  # the folder was swapped for a link after the listing
    refused(
        lambda: open_regular(real / "secret.txt", "real/secret.txt", identity=(listed.st_dev, listed.st_ino)),
        "changed",
        "E141",
    )


def test_fifo_socket_device_and_folder_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    exc = refused(lambda: no_hang(lambda: read_bounded(fifo, 1000, "fifo"), [fifo]), "special", "E138")
    assert "FIFO" in exc.reason
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        refused(lambda: open_regular(tmp_path / "sock", "sock"), "special", "E138")
    refused(lambda: open_regular("/dev/null", "null"), "special", "E138")
    refused(lambda: read_bounded("/dev/zero", 10, "zero"), "special", "E138")
    refused(lambda: open_regular(tmp_path, "folder"), "special", "E138")


def test_missing_and_unreadable_are_findings_not_oserror(tmp_path: Path) -> None:
    refused(lambda: open_regular(tmp_path / "missing", "missing"), "unreadable", "E139")
    refused(lambda: open_regular(tmp_path / "missing" / "deeper", "deeper"), "unreadable", "E139")
    (tmp_path / "file").write_bytes(b"x")
    refused(lambda: open_regular(tmp_path / "file" / "below", "below"), "unreadable", "E139")
    refused(lambda: open_regular(tmp_path / ("x" * 300), "long"), "unreadable", "E139")


def test_size_is_judged_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big"
    with open(big, "wb") as fh:
        fh.truncate(10 * 1024**3)  # sparse: 10 GiB that would take minutes to read
    exc = refused(lambda: read_bounded(big, 1024, "big"), "too-large", "E142")
    assert "10737418240 bytes" in exc.reason
    (tmp_path / "small").write_bytes(b"12345")
    assert read_bounded(tmp_path / "small", 5, "small") == b"12345"
    refused(lambda: read_bounded(tmp_path / "small", 4, "small"), "too-large", "E142")


def test_a_file_that_grows_while_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "growing"
    path.write_bytes(b"a" * 1000)
    with open_regular(path, "growing") as stream:
        assert stream.read(600) == b"a" * 600
        with open(path, "ab") as writer:
            writer.write(b"more")
        with pytest.raises(UnsafeFile) as raised:
            stream.read()
    assert raised.value.finding.code == "E141" and "grew" in raised.value.reason
    path.write_bytes(b"a" * 1000)
    with open_regular(path, "shrinking") as stream:
        os.truncate(path, 10)
        assert stream.read() == b"a" * 10  # fewer bytes: the caller compares with the listed size


def test_a_file_replaced_since_it_was_listed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"first")
    st = path.stat()
    assert read_bounded(path, 100, "f", identity=(st.st_dev, st.st_ino)) == b"first"
    path.rename(tmp_path / "kept")  # kept: a freed inode number could be given to the new file
    (tmp_path / "other").write_bytes(b"second")
    (tmp_path / "other").rename(path)
    refused(lambda: read_bounded(path, 100, "f", identity=(st.st_dev, st.st_ino)), "changed", "E141")


def test_names_in_findings_are_escaped(tmp_path: Path) -> None:
    name = "evil\x1b[2J\u202ename"
    exc = refused(lambda: open_regular(tmp_path / name, name), "unreadable", "E139")
    assert exc.finding.path == printable(name) and exc.finding.path.isprintable()


def test_walk_tree_has_no_recursion_and_follows_no_link(tmp_path: Path, canary: Path) -> None:
    root = tmp_path / "tree"
    make_deep(root, 1200, "bottom.txt")  # deeper than Python's recursion limit
    (root / "link").symlink_to(canary.parent)
    os.mkfifo(root / "fifo")
    try:
        entries = no_hang(lambda: list(walk_tree(root)))
    finally:
        remove_deep(root, 1200, "bottom.txt")
    kinds = {e.rel: e.kind for e in entries}
    assert kinds["link"] == "link" and kinds["fifo"] == "fifo"
    assert not any(rel.startswith("link/") for rel in kinds)
    bottom = "/".join(["d"] * 1200) + "/bottom.txt"
    assert kinds[bottom] == "file" and next(e for e in entries if e.rel == bottom).depth == 1200
    assert [e.rel for e in entries][:3] == ["d", "d/d", "d/d/d"]  # depth first, in name order


def test_walk_tree_can_be_told_not_to_descend(tmp_path: Path) -> None:
    for rel in ("a/x/1", "b/2", "c"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    rels = [e.rel for e in walk_tree(tmp_path, descend=lambda e: e.rel != "a")]
    assert rels == ["a", "b", "b/2", "c"]


def test_walk_tree_notices_a_folder_swapped_for_a_link(tmp_path: Path, canary: Path) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file").write_bytes(b"x")

    def swap(entry: Any) -> bool:
        if entry.rel == "sub":  # listed as a folder, replaced by a link before it is entered
            (root / "sub").rename(tmp_path / "gone")
            (root / "sub").symlink_to(canary.parent)
        return True

    entries = list(walk_tree(root, descend=swap))
    assert [(e.rel, e.kind) for e in entries] == [("sub", "folder"), ("sub", "unreadable")]
    assert "replaced" in entries[1].error
    assert not any("secret" in e.rel for e in entries)


def test_walk_tree_of_a_missing_root_is_one_unreadable_entry(tmp_path: Path) -> None:
    [entry] = list(walk_tree(tmp_path / "missing"))
    assert entry.kind == "unreadable" and entry.rel == "" and entry.error
