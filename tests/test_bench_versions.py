"""bench/versions.py runs end to end on a tiny package: a real ingest, a real amendment, the
baselines, the ratios printed, and the exit status that says whether an amendment stored too much."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "versions.py"


def _bench(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    workdir = tmp_path / "not" / "there" / "yet"  # created by the bench
    return subprocess.run(
        [sys.executable, str(BENCH), "--files", "20", "--big-mb", "2", "--workdir", str(workdir), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


def test_bench_reports_the_amendment_against_its_baselines(tmp_path: Path) -> None:
    # no payload stored again, bytes and time independent of the payload's size: exit 0
    proc = _bench(tmp_path, "--max-time-ratio", "20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "small-20: 20 files" in out and "big-20: 20 files" in out
    for line in (
        "ratio amend bytes / payload bytes",
        "ratio amend / re-ingest: bytes",
        "ratio amend / copy:      bytes",
        "ratio amend time big / small payload",
        "ratio amend bytes big / small payload",
    ):
        assert line in out, out
    assert "WARNING" not in proc.stderr
    assert (tmp_path / "not" / "there" / "yet").is_dir()
    assert list((tmp_path / "not" / "there" / "yet").iterdir()) == []  # nothing kept without --keep


def test_bench_json_and_the_limit(tmp_path: Path) -> None:
    proc = _bench(tmp_path, "--json", "--max-ratio", "0", "--max-time-ratio", "20")
    assert proc.returncode == 1, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    cases = {c["case"]: c for c in data["cases"]}
    assert set(cases) == {"small-20", "big-20"} and data["over"] == ["small-20", "big-20"]
    for c in cases.values():
        # a metadata amendment stores no payload again: what it adds is tag files and inventories
        assert 0 < c["amend_content_bytes"] <= c["amend_apparent_bytes"]
        assert c["amend_content_files"] <= 6 and c["amend_payload_bytes"] == 0
        assert c["bytes_ratio"] == c["amend_disk_bytes"] / c["payload_bytes"]
    big, small = cases["big-20"], cases["small-20"]
    assert big["payload_bytes"] == 2_000_000 and big["reingest_apparent_bytes"] > big["payload_bytes"]
    assert big["amend_disk_bytes"] < big["reingest_disk_bytes"]
    assert big["big_vs_small_time"] == big["amend_s"] / small["amend_s"]
    assert 0.8 <= big["big_vs_small_bytes"] <= 1.25  # what an amendment adds does not grow with the payload
    assert "WARNING: the amendment of small-20 stored" in proc.stderr
    assert not big["in_mets_parts"] and big["amend_parts_stored"] == 0


def test_bench_of_a_package_in_mets_parts(tmp_path: Path) -> None:
    """With parts of about 4 files the 20-file package is in METS parts: the amendment stores its
    mets.xml and tag files, no part again (what --files 10000 measures at the archive's 1,000)."""
    proc = _bench(tmp_path, "--json", "--part-files", "4", "--max-time-ratio", "20")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for case in json.loads(proc.stdout)["cases"]:
        assert case["in_mets_parts"] and case["amend_parts_stored"] == 0
        assert case["amend_content_files"] <= 6 and case["amend_inventory_bytes"] > 0


def _module():
    spec = importlib.util.spec_from_file_location("bench_versions", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


VERSIONS = _module()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.integers(1, 30), extra=st.integers(0, 5000), small=st.booleans())
def test_submissions_hold_the_payload_they_say(tmp_path_factory, files: int, extra: int, small: bool) -> None:
    """Whatever the file count and payload, the submission holds exactly the payload bytes the bench
    divides by, in ``files`` files, each starting with the lead-in (so no profile rejects one)."""
    root = tmp_path_factory.mktemp("sub")
    total = None if small else files * VERSIONS.MIN_BIG_FILE + extra
    written = VERSIONS.make_submission(root, files, total, seed=files)
    payload = sorted(p for p in root.rglob("*.bin"))
    assert len(payload) == files and (root / "metadata.yaml").is_file()
    assert written == sum(p.stat().st_size for p in payload) == (written if total is None else total)
    assert all(p.read_bytes().startswith(VERSIONS.LEAD_IN) for p in payload)
    if small:
        assert all(1024 <= p.stat().st_size <= 4096 for p in payload)


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=5))
def test_file_counts_read_back(counts: list[int]) -> None:
    assert VERSIONS.file_counts(",".join(map(str, counts))) == counts


def test_too_little_payload_for_the_files_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--files", "1000", "--big-mb", "0.01", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "too little" in proc.stderr and "Traceback" not in proc.stderr
