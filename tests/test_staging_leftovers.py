"""Staging can never brick the archive: whatever a crash leaves in ``.staging``, the next command works.

Leftovers are generated (hypothesis): trees of any depth (deeper than the interpreter's recursion
limit and than PATH_MAX), wide folders, links pointing out of storage, FIFOs, a lock file that is
a folder, a link or a FIFO, plain files where folders should be. After them, ``ingest``,
``audit --all`` and ``doctor`` exit 0, the leftovers are gone, and nothing a link pointed at
was touched.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.cli import main
from archive.storage.local import STAGING
from archive.tree_removal import remove_tree
from tests.support.crash import write_config

SUB = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"


def _deep(root: Path, depth: int, name: str = "d" * 40) -> None:
    """A chain of ``depth`` folders built relative to descriptors (deeper than PATH_MAX allows by path)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("last.tif", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd), "wb") as fh:
            fh.write(b"half")
    finally:
        os.close(fd)


_SHAPES = ("deep", "wide", "link-out", "fifo", "lock-dir", "lock-link", "lock-fifo", "plain-file", "tmp-old")


def _leave(staging: Path, shape: str, outside: Path, depth: int) -> Path:
    entry = staging / f"{uuid.uuid4()}-ingest"
    if shape == "plain-file":
        entry.write_bytes(b"not a folder")
        return entry
    if shape == "tmp-old":
        entry = staging / f".tmp-{uuid.uuid4()}"
        entry.mkdir()
        os.utime(entry, (0, 0))
        return entry
    entry.mkdir()
    if shape == "deep":
        _deep(entry, depth)
    elif shape == "wide":
        for i in range(300):
            (entry / f"f{i}").mkdir()
            (entry / f"f{i}" / "x").write_bytes(b"x")
    elif shape == "link-out":
        (entry / "bag").mkdir()
        (entry / "bag" / "data").symlink_to(outside)
        (entry / "escape").symlink_to(outside / "keep.txt")
    elif shape == "fifo":
        os.mkfifo(entry / "pipe")
    elif shape == "lock-dir":
        (entry / ".lock").mkdir()
    elif shape == "lock-link":
        (entry / ".lock").symlink_to(outside / "keep.txt")
    elif shape == "lock-fifo":
        os.mkfifo(entry / ".lock")
    return entry


def test_remove_tree_handles_any_depth_and_never_follows_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    top = tmp_path / "top"
    top.mkdir()
    _deep(top, 1500)  # 1,500 levels of 41 bytes: past the recursion limit and PATH_MAX
    (top / "out").symlink_to(outside)
    remove_tree(top)
    assert not top.exists() and (outside / "keep.txt").read_text() == "keep"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shapes=st.lists(st.sampled_from(_SHAPES), min_size=1, max_size=4, unique=True),
    depth=st.integers(min_value=1, max_value=1200),
)
def test_no_leftover_stops_the_next_command(tmp_path_factory, shapes: list[str], depth: int) -> None:
    tmp = tmp_path_factory.mktemp("leftovers")
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    config = write_config(tmp, f"sqlite:///{tmp / 'catalog.sqlite3'}", replica=False)
    run = CliRunner().invoke
    first = run(main, ["--config", str(config), "ingest", str(SUB), "-p", "heritage", "--json"])
    assert first.exit_code == 0, first.output
    staging = tmp / "home" / "storage" / STAGING
    left = [_leave(staging, shape, outside, depth) for shape in shapes]
    for argv in (["audit", "--all"], ["doctor"], ["doctor"], ["ingest", str(SUB), "-p", "heritage"]):
        result = run(main, ["--config", str(config), *argv])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code in (0, 1), (argv, result.output)
        assert "Traceback" not in result.output
    final = run(main, ["--config", str(config), "doctor", "--json"])
    assert final.exit_code == 0, final.output
    assert not [p for p in left if p.exists() or p.is_symlink()]
    assert (outside / "keep.txt").read_text() == "keep"
