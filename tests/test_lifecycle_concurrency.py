"""Two processes amend one package at the same moment: one wins, the other gets ChangeConflict
(E801, exit 1), and nothing of either is lost: the winner's version is whole everywhere, the
loser's left nothing behind, and the loser's change, tried again, becomes the next version."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import ocfl
import yaml

from archive.catalog.repository import Catalog
from archive.services.audit.run import AuditOptions, run_audit
from archive.services.ingest.run import ingest
from archive.services.ledgering import verify_ledger
from archive.services.lifecycle import changes
from archive.services.lifecycle.versions import Actor
from archive.services.recovery.doctor import run_doctor
from tests.support.crash import context, staging_entries, write_config

SUB = Path(__file__).parent / "data" / "submissions" / "heritage-minimal"


def _racer(config: Path, metadata: Path, barrier: Any, out: Path) -> None:
    """A child that amends, waiting once it has read the package until the other has read it too."""
    for name in [k for k in os.environ if k.startswith("ARCHIVE_")]:
        del os.environ[name]
    original, waited = Catalog.get_package, []

    def get_package(self: Catalog, package_id: str, version: int | None = None) -> Any:
        found = original(self, package_id, version)
        if not waited:
            waited.append(True)
            barrier.wait(60)  # both have read version 1, neither has stored: the race is on
        return found

    Catalog.get_package = get_package  # type: ignore[method-assign]
    sys.stdout = open(out, "w", encoding="utf-8")  # noqa: SIM115 - the child ends with os._exit
    from archive.cli import main

    code = 0
    pid = json.loads(out.with_suffix(".pid").read_text())
    try:
        main.main(
            ["--config", str(config), "amend", pid, "--metadata", str(metadata), "--reason", out.stem, "--json"],
            prog_name="archive",
        )
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    os._exit(code)


def test_two_processes_amending_one_package_at_once(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path, database_url)
    with context(config) as ctx:
        pid = ingest(ctx, SUB, "heritage").package_id
    base = yaml.safe_load((SUB / "metadata.yaml").read_text())
    metas = []
    for i in range(2):
        path = tmp_path / f"meta{i}.yaml"
        path.write_text(yaml.safe_dump({**base, "title": f"Title from racer {i}"}))
        metas.append(path)
        (tmp_path / f"racer{i}.pid").write_text(json.dumps(pid))
    mp = multiprocessing.get_context("fork")
    barrier = mp.Barrier(2)
    procs = [mp.Process(target=_racer, args=(config, metas[i], barrier, tmp_path / f"racer{i}.json")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    codes = [p.exitcode for p in procs]
    assert sorted(codes) == [0, 1], codes
    results = [json.loads((tmp_path / f"racer{i}.json").read_text()) for i in range(2)]
    winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
    assert results[winner]["version"] == 2
    assert results[loser]["error"]["code"] == "E801"
    with context(config) as ctx:
        pkg = ctx.catalog.get_package(pid)
        assert pkg.version == 2 and pkg.metadata["title"] == f"Title from racer {winner}"
        for storage in ctx.all_storage:
            assert storage.head(pid) == 2
            root = ocfl.StorageRoot(root=str(storage.root))
            assert root.validate(), str(root.log)
        assert staging_entries(ctx) == []
        assert run_doctor(ctx).exit_status == 0
        again = changes.amend(ctx, pid, metas[loser], "tried again", Actor("loser"))
        assert again.version == 3
        assert ctx.catalog.get_package(pid, 2).metadata["title"] == f"Title from racer {winner}"
        assert run_audit(ctx, AuditOptions(all=True)).exit_status == 0
        ledger = verify_ledger(ctx)
        assert ledger.ok and not ledger.problems
