"""Catalog queries for fixity audits: runs, findings, each package's fixity state, selection, coverage.

Their records (:class:`AuditRun`, :class:`FixityState`, :class:`PackageRecord`) are in
:mod:`archive.catalog.records`; the longer statements, built, in :mod:`archive.catalog.audit_queries`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from archive.catalog.audit_queries import COVERAGE_KEYS, coverage_query, due, selection_page
from archive.catalog.guard import guarded
from archive.catalog.records import AuditRun, FixityState, PackageRecord, aware, iso
from archive.catalog.repository import Catalog
from archive.catalog.tables import (
    AuditFindingRow,
    AuditRunRow,
    EventRow,
    FileRow,
    PackageFixityRow,
    PackageRow,
    VersionRow,
)
from archive.errors import NotFound
from archive.model import Event


def _run(row: AuditRunRow) -> AuditRun:
    return AuditRun(**{f.name: getattr(row, f.name) for f in fields(AuditRun)})


def _state(row: PackageFixityRow) -> FixityState:
    return FixityState(**{f.name: getattr(row, f.name) for f in fields(FixityState)})


class Audits:
    """Audit queries on one catalog. Every method is its own transaction."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _session(self) -> Session:
        return self.catalog.session()

    # -- runs ------------------------------------------------------------------
    @guarded("start audit run {run_id}")
    def start_run(
        self,
        run_id: str,
        started_at: datetime,
        selection: str,
        jobs: int,
        max_seconds: int | None,
        max_bytes: int | None,
    ) -> None:
        self._write(
            lambda s: s.add(
                AuditRunRow(
                    id=run_id,
                    started_at=started_at,
                    status="running",
                    outcome="",
                    selection=selection,
                    jobs=jobs,
                    max_seconds=max_seconds,
                    max_bytes=max_bytes,
                    packages=0,
                    files=0,
                    bytes=0,
                    failures=0,
                    unchecked=0,
                    repaired=0,
                    stop_reason="",
                    notified="",
                )
            )
        )

    @guarded("update audit run {run_id}")
    def update_run(self, run_id: str, **values: Any) -> None:
        def apply(s: Session) -> None:
            row = s.get(AuditRunRow, run_id)
            if row is None:
                raise NotFound(f"no audit run {run_id}")
            for key, value in values.items():
                setattr(row, key, value)

        self._write(apply)

    @guarded("record audit results of run {run_id}")
    def record(
        self,
        run_id: str,
        findings: list[Any],
        events: list[tuple[str, Event]],
        state: FixityState | None,
        counts: dict[str, int],
    ) -> None:
        """One transaction: findings, PREMIS events, the package's fixity state, the run's counters."""

        def apply(s: Session) -> None:
            s.add_all(
                AuditFindingRow(
                    run_id=run_id,
                    package_id=f.package_id,
                    copy=f.copy,
                    path=f.path,
                    kind=f.kind,
                    code=f.code,
                    severity=f.severity,
                    message=f.message,
                    expected=f.expected,
                    found=f.found,
                )
                for f in findings
            )
            s.add_all(EventRow(**EventRow.values(pid, e)) for pid, e in events)
            if state is not None:
                row = s.get(PackageFixityRow, state.package_id) or PackageFixityRow(package_id=state.package_id)
                for f in fields(FixityState):
                    setattr(row, f.name, getattr(state, f.name))
                s.add(row)
            run = s.get(AuditRunRow, run_id)
            if run is not None:
                for key, n in counts.items():
                    setattr(run, key, (getattr(run, key) or 0) + n)

        self._write(apply)

    def _write(self, apply: Any) -> None:
        with self._session() as s, s.begin():
            apply(s)

    @guarded("list audit runs")
    def list_runs(self, limit: int = 50, offset: int = 0) -> list[AuditRun]:
        with self._session() as s:
            q = select(AuditRunRow).order_by(AuditRunRow.started_at.desc(), AuditRunRow.id).limit(limit).offset(offset)
            return [_run(r) for r in s.scalars(q)]

    @guarded("count audit runs")
    def count_runs(self, since: datetime | None = None) -> int:
        q = select(func.count()).select_from(AuditRunRow)
        if since is not None:
            q = q.where(AuditRunRow.started_at >= since)
        with self._session() as s:
            return int(s.scalar(q) or 0)

    @guarded("count audit runs")
    def runs_since(self, since: datetime) -> dict[str, int]:
        with self._session() as s:
            row = s.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(AuditRunRow.bytes), 0),
                    func.coalesce(func.sum(AuditRunRow.files), 0),
                    func.sum(case((AuditRunRow.outcome == "failure", 1), else_=0)),
                ).where(AuditRunRow.started_at >= since)
            ).one()
        return {"runs": int(row[0]), "bytes": int(row[1]), "files": int(row[2]), "failing_runs": int(row[3] or 0)}

    @guarded("list {status} audit runs")
    def runs_with_status(self, status: str) -> list[AuditRun]:
        with self._session() as s:
            q = select(AuditRunRow).where(AuditRunRow.status == status).order_by(AuditRunRow.started_at, AuditRunRow.id)
            return [_run(r) for r in s.scalars(q)]

    @guarded("read audit run {run_id}")
    def get_run(self, run_id: str) -> AuditRun:
        with self._session() as s:
            row = s.get(AuditRunRow, run_id)
            if row is None:
                raise NotFound(f"no audit run {run_id}")
            return _run(row)

    @guarded("read the findings of audit run {run_id}")
    def run_findings(self, run_id: str, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        q = select(AuditFindingRow).where(AuditFindingRow.run_id == run_id).order_by(AuditFindingRow.id)
        if limit is not None:
            q = q.limit(limit).offset(offset)
        with self._session() as s:
            return [
                {
                    "package": r.package_id,
                    "copy": r.copy,
                    "path": r.path,
                    "kind": r.kind,
                    "code": r.code,
                    "severity": r.severity,
                    "message": r.message,
                    "expected": r.expected,
                    "found": r.found,
                }
                for r in s.scalars(q)
            ]

    # -- packages --------------------------------------------------------------
    @guarded("read package {package_id} for an audit")
    def package(self, package_id: str) -> PackageRecord:
        with self._session() as s:
            row = s.get(PackageRow, package_id)
            if row is None:
                raise NotFound(f"no package {package_id} in the catalog")
            rows = s.execute(
                select(FileRow.since_version, FileRow.until_version, FileRow.path, FileRow.size, FileRow.digests).where(
                    FileRow.package_id == package_id
                )
            ).all()
            tags = s.execute(
                select(VersionRow.number, VersionRow.tag_digests).where(VersionRow.package_id == package_id)
            ).all()
            return PackageRecord.from_row(
                row,
                files=[(p, int(n), dict(d)) for _, until, p, n, d in rows if until is None],
                history=[(since, until, p, int(n), dict(d)) for since, until, p, n, d in rows],
                version_tags={number: dict(t) for number, t in tags} or {row.version: dict(row.tag_digests)},
            )

    @guarded("read the fixity state of package {package_id}")
    def state(self, package_id: str) -> FixityState | None:
        with self._session() as s:
            row = s.get(PackageFixityRow, package_id)
            return _state(row) if row else None

    @guarded("read fixity states")
    def states(self, package_ids: list[str]) -> dict[str, FixityState]:
        with self._session() as s:
            rows = s.scalars(select(PackageFixityRow).where(PackageFixityRow.package_id.in_(package_ids)))
            return {r.package_id: _state(r) for r in rows}

    @guarded("list unfinished audit passes")
    def pending(self) -> list[str]:
        """Packages whose pass stopped part-way (resumed first), oldest pass first."""
        with self._session() as s:
            return list(
                s.scalars(
                    select(PackageFixityRow.package_id)
                    .where(PackageFixityRow.cursor.is_not(None))
                    .order_by(PackageFixityRow.pass_started_at, PackageFixityRow.package_id)
                )
            )

    @guarded("select packages to audit")
    def page(
        self,
        cutoffs: dict[str, datetime] | None,
        default_cutoff: datetime | None,
        exclude_run: str,
        after: tuple[datetime, str] | None,
        limit: int = 200,
    ) -> list[tuple[str, datetime]]:
        """Next packages by last verification, oldest first (keyset after ``after``), skipping those
        run ``exclude_run`` already touched. ``cutoffs`` (per profile) and ``default_cutoff`` keep only
        packages last verified before them (due)."""
        q = selection_page(cutoffs, default_cutoff, exclude_run, after, limit)
        with self._session() as s:
            return [(pid, aware(last)) for pid, last in s.execute(q)]

    @guarded("size the audit selection")
    def selection_bytes(
        self, package_ids: list[str], cutoffs: dict[str, datetime] | None = None, default_cutoff: datetime | None = None
    ) -> int:
        """Bytes of the given packages, of the due ones (``cutoffs``), or of every package."""
        q = select(func.coalesce(func.sum(PackageRow.total_bytes), 0)).outerjoin(
            PackageFixityRow, PackageFixityRow.package_id == PackageRow.id
        )
        if package_ids:
            q = q.where(PackageRow.id.in_(package_ids))
        elif cutoffs is not None:
            q = q.where(due(cutoffs, default_cutoff))
        with self._session() as s:
            return int(s.scalar(q) or 0)

    @guarded("look up packages")
    def known(self, package_ids: list[str]) -> set[str]:
        """Which of ``package_ids`` the catalog holds."""
        with self._session() as s:
            return set(s.scalars(select(PackageRow.id).where(PackageRow.id.in_(package_ids))))

    @guarded("list the profiles in the catalog")
    def catalog_profiles(self) -> list[str]:
        with self._session() as s:
            return list(s.scalars(select(PackageRow.profile_id).distinct().order_by(PackageRow.profile_id)))

    @guarded("read the packages' fixity intervals")
    def profile_intervals(self) -> dict[str, tuple[int | None, int]]:
        """Per profile in the catalog: the shortest fixity interval its packages recorded at ingest
        (None: none recorded) and how many of its packages have no interval recorded."""
        missing = func.sum(case((PackageRow.fixity_interval_days.is_(None), 1), else_=0))
        q = (
            select(PackageRow.profile_id, func.min(PackageRow.fixity_interval_days), missing)
            .group_by(PackageRow.profile_id)
            .order_by(PackageRow.profile_id)
        )
        with self._session() as s:
            return {name: (None if days is None else int(days), int(n or 0)) for name, days, n in s.execute(q)}

    @guarded("record the fixity interval of profile {profile}")
    def record_interval(self, profile: str, days: int) -> None:
        """Record ``days`` for the packages of ``profile`` that have no fixity interval recorded."""
        self._write(
            lambda s: s.execute(
                update(PackageRow)
                .where(PackageRow.profile_id == profile, PackageRow.fixity_interval_days.is_(None))
                .values(fixity_interval_days=days)
            )
        )

    @guarded("list package ids")
    def iter_ids(self) -> Iterator[str]:
        """Every catalogued package id in order, paged."""
        after = ""
        while True:
            with self._session() as s:
                ids = list(
                    s.scalars(select(PackageRow.id).where(PackageRow.id > after).order_by(PackageRow.id).limit(1000))
                )
            if not ids:
                return
            yield from ids
            after = ids[-1]

    @guarded("look up package {package_id}")
    def exists(self, package_id: str) -> bool:
        return self.catalog.exists(package_id)

    @guarded("read fixity states")
    def last_fixity(self, package_ids: list[str]) -> dict[str, FixityState]:
        """Each package's fixity state; never-audited packages get an empty state (outcome "")."""
        found = self.states(package_ids)
        return {pid: found.get(pid) or FixityState(pid) for pid in package_ids}

    # -- coverage --------------------------------------------------------------
    @guarded("compute audit coverage")
    def coverage(self, thresholds: dict[str, datetime], default: datetime) -> list[dict[str, Any]]:
        """Per profile: totals, what was verified since its threshold (and not failing), oldest, failures."""
        q = coverage_query(thresholds, default)
        with self._session() as s:
            rows = s.execute(q).all()
        out = []
        for row in rows:
            item = {
                k: (int(v or 0) if k not in ("profile", "oldest_verification") else v)
                for k, v in zip(COVERAGE_KEYS, row, strict=False)
            }
            item["oldest_verification"] = iso(row[7])
            out.append(item)
        return out

    @guarded("list open audit failures")
    def open_failures(self, limit: int = 100) -> list[dict[str, Any]]:
        q = (
            select(PackageFixityRow, PackageRow.profile_id)
            .join(PackageRow, PackageRow.id == PackageFixityRow.package_id)
            .where(PackageFixityRow.outcome == "failure")
            .order_by(PackageFixityRow.package_id)
            .limit(limit)
        )
        with self._session() as s:
            rows = s.execute(q).all()
            out = []
            for st, profile in rows:
                n = s.scalar(
                    select(func.count())
                    .select_from(AuditFindingRow)
                    .where(
                        AuditFindingRow.run_id == st.failed_run_id,
                        AuditFindingRow.package_id == st.package_id,
                        AuditFindingRow.severity == "failure",
                    )
                )
                out.append(
                    {
                        "package": st.package_id,
                        "profile": profile,
                        "run": st.failed_run_id,
                        "findings": int(n or 0),
                        "checked_at": iso(st.checked_at),
                    }
                )
        return out

    @guarded("read the fixity events of package {package_id}")
    def fixity_events(self, package_id: str) -> list[str]:
        with self._session() as s:
            return list(
                s.scalars(
                    select(EventRow.outcome).where(EventRow.package_id == package_id, EventRow.type == "fixity check")
                )
            )
