"""The trust invariant: what every submission nobody here wrote must satisfy (generated, hypothesis).

For every generated submission (tests/support/strategies.py), ingested through the real CLI with
``--json`` into a fresh archive home:

* EITHER it is **stored byte-exact**: exit 0; the stored ``data/`` holds exactly the submitted
  payload files (NFC paths), each byte for byte; the stored bag passes bagit-python's
  ``Bag.validate()`` and ``archive bag validate``; its ``mets.xml`` validates. A submission
  holding an entry no stored bag can reproduce (a link, a FIFO, a device, a name outside the
  submission, an archive member whose size or CRC contradicts its bytes, two different byte
  strings under one path) can therefore only be refused;
* OR it is **refused**: exit 1, JSON with ``ok: false`` and at least one finding with a code,
  and NOTHING written: no package listed, no package folder, no ledger entry, nothing in
  staging or quarantine (only empty ``*.lock`` files may remain in storage);
* and in both cases: no traceback and no uncaught exception; the command returns within
  ``TRUST_TIMEOUT`` seconds (a FIFO must not hang it; the CLI runs in a worker process that is
  killed at the deadline); not one byte of the canary secret (planted beside the submission,
  where its links point) appears in stdout, stderr, the JSON, any file under the archive home
  (storage, staging, ledger, the catalog database); nothing beside the archive home changes
  (no zip slip, no write through a link); and afterwards a good submission still ingests,
  ``archive audit --all`` passes and ``archive doctor`` finds nothing (staging can never brick
  the archive).

Two narrower properties, separate so that each failure names its own layer:

* ``test_metadata_is_never_guessed``: metadata with a key given twice (different values) or a
  files.csv column given twice (different cells) is refused; the access level recorded is
  exactly the one the metadata states (``Metadata.allowed_access`` in tests/support/strategies.py);
* ``test_a_bag_that_contradicts_itself_is_never_accepted``: wrong digests, missing or extra
  files, failing tag manifests, a wrong Payload-Oxum, manifest paths outside the bag.

Runs in about 2-4 minutes (``-m 'not slow'`` skips the deep-chain test). Settings:
``TRUST_TIMEOUT`` (seconds per command, default 10), ``TRUST_EXAMPLES`` (multiplies every
``max_examples``), ``TRUST_SHRINK=0`` (report unshrunk examples, faster).
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import stat
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings

from tests.support import strategies as S
from tests.support.audit import OCFL_ROOT_FILES

# ============================================================================================
# KNOWN FAILURES: tests that fail today, marked xfail(strict=False) by `known_failure` below.
# Remove an entry when its fix lands (the test then runs as a normal, strict test).
# ============================================================================================
KNOWN_FAILURES: dict[str, str] = {}
# ============================================================================================

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = float(os.environ.get("TRUST_TIMEOUT", "10"))
SCALE = float(os.environ.get("TRUST_EXAMPLES", "1"))
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + (
    [] if os.environ.get("TRUST_SHRINK", "1") == "0" else [Phase.shrink]
)
#: settings every example's archive runs with: small limits, one worker, fido
ARCHIVE_SETTINGS = (
    "storage: storage\nworkers: 1\nidentify_engine: fido\nmax_metadata_bytes: 1048576\n"
    "max_expanded_bytes: 67108864\nmax_files: 1000\n"
)
FINDING_CODE = re.compile(r"^[EW]\d{3}$")


def known_failure(func: Callable[..., Any]) -> Callable[..., Any]:
    reason = KNOWN_FAILURES.get(func.__name__)
    return pytest.mark.xfail(strict=False, reason=reason)(func) if reason else func


def examples(n: int, **kw: Any) -> settings:
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        phases=PHASES,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        **kw,
    )


# --------------------------------------------------------------------------------------------
# the CLI, in a worker process (a FIFO that hangs it is killed, not waited for)

WORKER = r"""
import base64, json, os, sys, traceback
reply = os.fdopen(int(sys.argv[1]), "w", buffering=1)
from click.testing import CliRunner
from archive.cli import main
reply.write("ready\n")
for line in sys.stdin:
    argv = json.loads(line)
    env = {k: None for k in os.environ if k.startswith("ARCHIVE_")}
    result = CliRunner().invoke(main, argv, env=env, catch_exceptions=True)
    tb = ""
    if result.exc_info is not None and not isinstance(result.exc_info[1], SystemExit):
        tb = "".join(traceback.format_exception(*result.exc_info))
    reply.write(json.dumps({"exit": result.exit_code, "tb": tb,
                            "out": base64.b64encode(result.stdout_bytes).decode(),
                            "err": base64.b64encode(result.stderr_bytes or b"").decode()}) + "\n")
"""


@dataclass
class Run:
    argv: list[str]
    exit_code: int | None  # None: killed at the deadline
    stdout: bytes
    stderr: bytes  # CliRunner's stderr, plus anything written straight to the process's fds
    traceback: str

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None

    def json(self) -> Any:
        return json.loads(self.stdout.decode("utf-8"))

    def show(self, limit: int = 3000) -> str:
        text = (
            f"$ archive {' '.join(self.argv)}\nexit {self.exit_code}\n--- stdout\n"
            f"{self.stdout.decode('utf-8', 'replace')[:limit]}\n--- stderr\n"
            f"{self.stderr.decode('utf-8', 'replace')[:limit]}"
        )
        return text + (f"\n--- uncaught exception\n{self.traceback[-limit:]}" if self.traceback else "")


class Worker:
    """One long-lived ``python`` running ``archive.cli.main`` through click's CliRunner."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> None:
        read_fd, write_fd = os.pipe()
        self.log = open(self.scratch / f"worker-{os.getpid()}-{id(self)}.log", "w+b")  # noqa: SIM115  closed in close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=self.log,
            pass_fds=(write_fd,),
            cwd=self.scratch,
            env=env,
        )
        os.close(write_fd)
        self.reply = os.fdopen(read_fd, "rb")
        line = self._readline(120)
        assert line == b"ready\n", f"the CLI worker did not start: {self._drain()!r}"

    def _readline(self, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.reply], [], [], timeout)
        return self.reply.readline() if ready else None

    def _drain(self) -> bytes:
        self.log.seek(0)
        data = self.log.read()
        self.log.seek(0)
        self.log.truncate()
        return data

    def run(self, *argv: str, timeout: float = TIMEOUT) -> Run:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        self._drain()
        self.proc.stdin.write((json.dumps(list(argv)) + "\n").encode())
        self.proc.stdin.flush()
        line = self._readline(timeout)
        if not line:
            written = self._drain()
            self.close()
            return Run(list(argv), None, b"", written, "")
        answer = json.loads(line)
        return Run(
            list(argv),
            answer["exit"],
            base64.b64decode(answer["out"]),
            base64.b64decode(answer["err"]) + self._drain(),
            answer["tb"],
        )

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()  # only the worker this test started
            self.proc.wait()
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.reply.close()
            self.log.close()
            self.proc = None


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory):
    w = Worker(tmp_path_factory.mktemp("trust-worker"))
    yield w
    w.close()


@pytest.fixture(scope="module", autouse=True)
def _bounded_shrinking():
    """Each example is a real ingest (about a second): cap hypothesis's shrinking at
    TRUST_SHRINK_SECONDS (default 30) instead of its five minutes, for this module only."""
    from hypothesis.internal.conjecture import engine

    before = getattr(engine, "MAX_SHRINKING_SECONDS", None)
    if before is not None:
        engine.MAX_SHRINKING_SECONDS = int(os.environ.get("TRUST_SHRINK_SECONDS", "30"))
    yield
    if before is not None:
        engine.MAX_SHRINKING_SECONDS = before


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trust")


# --------------------------------------------------------------------------------------------
# one example


class Violation(AssertionError):
    pass


_KINDS: dict[str, type[Violation]] = {}


def violated(kind: str, detail: str, run: Run | None = None) -> Violation:
    """A Violation of a class named after ``kind``, so that hypothesis reports (and shrinks)
    each kind of failure on its own instead of only the first one it met."""
    cls = _KINDS.setdefault(kind, type("Violation_" + re.sub(r"\W", "_", kind), (Violation,), {}))
    return cls(f"[{kind}] {detail}" + (f"\n{run.show()}" if run else ""))


def walk(root: Path) -> Any:
    """``os.walk`` without recursion (a 600-level tree under hypothesis's deep stack would pass
    the recursion limit), never following links: yields (folder, folder names, other names)."""
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        dirs, files = [], []
        try:
            with os.scandir(folder) as entries:
                for e in entries:
                    (dirs if e.is_dir(follow_symlinks=False) else files).append(e.name)
        except OSError:
            continue
        yield folder, dirs, files
        stack.extend(os.path.join(folder, d) for d in reversed(dirs))


def remove(root: Path) -> None:
    """Remove a tree of any depth, iteratively."""
    folders = []
    for folder, _dirs, files in walk(root):
        folders.append(folder)
        for name in files:
            os.unlink(os.path.join(folder, name))
    for folder in reversed(folders):
        os.rmdir(folder)


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime) of everything under ``root`` but ``skip``, never following links."""
    state = {}
    for folder, dirs, files in walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        for name in [*dirs, *files]:
            st = os.lstat(os.path.join(folder, name))
            state[os.path.relpath(os.path.join(folder, name), root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


def secret_forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, secret.encode("utf-16-le"), secret.encode("utf-16-be"), secret.upper().encode()]


def leaks(data: bytes, secret: str) -> bool:
    return any(form in data for form in secret_forms(secret))


def sweep(home: Path, secret: str) -> list[str]:
    """Every file under the archive home holding the secret; links and special files too."""
    found = []
    for folder, dirs, files in walk(home):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                found.append(f"{path}: a symbolic link in the archive home (-> {os.readlink(path)})")
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    if leaks(fh.read(), secret):
                        found.append(f"{path}: holds the canary secret")
            elif not stat.S_ISDIR(st.st_mode):
                found.append(f"{path}: a special file (mode {st.st_mode:o}) in the archive home")
    return found


@dataclass
class Example:
    """One example's archive: its home, settings and the worker that drives the CLI."""

    root: Path
    worker: Worker

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def storage(self) -> Path:
        return self.home / "storage"

    def cli(self, *args: str) -> Run:
        return self.worker.run("--config", str(self.root / "settings.yaml"), "--home", str(self.home), *args)


def new_example(scratch: Path, worker: Worker) -> Example:
    root = Path(tempfile.mkdtemp(dir=scratch))
    (root / "home").mkdir()
    (root / "settings.yaml").write_text(ARCHIVE_SETTINGS)
    return Example(root, worker)


def check_common(run: Run, secret: str, what: str) -> None:
    if run.timed_out:
        raise violated("hang", f"{what} did not return within {TIMEOUT:g} s (killed)", run)
    if run.traceback:
        raise violated("traceback", f"{what} raised an uncaught exception", run)
    if b"Traceback (most recent call last)" in run.stdout + run.stderr:
        raise violated("traceback", f"{what} printed a traceback", run)
    if leaks(run.stdout + run.stderr, secret):
        raise violated("leak:output", f"{what} printed the canary secret", run)


def stored_package(ex: Example, storage_path: str) -> Path:
    objdir = ex.storage / storage_path
    assert objdir.is_dir(), objdir
    stored = objdir / "v1" / "content"  # version 1's content folder: the bag as ingested
    for folder, dirs, files in walk(objdir):
        for name in [*dirs, *files]:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise violated("stored-special", f"{os.path.join(folder, name)} is stored as mode {mode:o}")
    return stored


def check_stored(ex: Example, built: S.Built, run: Run) -> str:
    """The accepted branch: byte-exact, both validators, METS. Returns the package id."""
    data = run.json()
    if data.get("ok") is not True or not data.get("id"):
        raise violated("bad-json", "exit 0 without ok: true and an id", run)
    if built.unstorable:
        raise violated("accepted-unstorable", f"accepted although it holds {built.unstorable}", run)
    stored = stored_package(ex, data["storage_path"])
    payload = stored / "data"
    found = {}
    for folder, _dirs, files in walk(payload):
        for name in files:
            full = os.path.join(folder, name)
            found[unicodedata.normalize("NFC", os.path.relpath(full, payload))] = Path(full).read_bytes()
    expected = built.expected
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise violated("not-byte-exact", f"stored payload paths differ: missing {missing!r}, extra {extra!r}", run)
    for path, versions in expected.items():
        if versions != {found[path]}:
            raise violated(
                "not-byte-exact",
                f"{path!r}: stored {found[path][:80]!r}, submitted {[v[:80] for v in versions]!r}",
                run,
            )
    try:
        bagit.Bag(str(stored)).validate()
    except Exception as exc:  # bagit raises several kinds
        raise violated("bagit-python", f"bagit-python rejects the stored bag: {exc!r}", run) from exc
    checked = ex.cli("bag", "validate", str(stored), "--json")
    check_common(checked, built.secret, "archive bag validate")
    if checked.exit_code != 0:
        raise violated("bag-validate", "archive bag validate rejects the stored bag", checked)
    from archive.packaging.mets.validate import validate_mets

    problems = validate_mets((stored / "mets.xml").read_bytes())
    if problems:
        raise violated("mets", f"stored mets.xml does not validate: {problems}", run)
    return str(data["id"])


def check_refused(ex: Example, run: Run) -> None:
    """The refused branch: exit 1 with finding codes, and nothing written."""
    try:
        data = run.json()
    except ValueError as exc:
        raise violated("bad-json", "exit 1 without a JSON document on stdout", run) from exc
    codes = [f.get("code", "") for f in (data.get("error") or {}).get("findings") or []]
    if data.get("ok") is not False or not codes or not all(FINDING_CODE.match(c) for c in codes):
        raise violated("no-findings", "refused without at least one finding code", run)
    written = []
    if ex.storage.exists():
        for folder, dirs, files in walk(ex.storage):
            rel = os.path.relpath(folder, ex.storage)
            for d in dirs:
                if re.fullmatch(r"[0-9a-f]{3}/[0-9a-f]{3}/[0-9a-f]{3}/[0-9a-f-]{36}", f"{rel}/{d}"):
                    written.append(f"package folder {rel}/{d}")
            for name in files:
                st = os.lstat(os.path.join(folder, name))
                if os.path.normpath(os.path.join(rel, name)) in OCFL_ROOT_FILES:
                    continue  # the storage root's own declaration, made with the archive
                if not (name.endswith(".lock") and st.st_size == 0 and stat.S_ISREG(st.st_mode)):
                    written.append(f"{rel}/{name} ({st.st_size} bytes)")
        staging = ex.storage / "extensions" / "archive-staging"
        if staging.exists() and any(staging.iterdir()):
            written.append(f"staging not empty: {sorted(p.name for p in staging.iterdir())}")
    if written:
        raise violated("refusal-wrote", f"a refused submission left {written}", run)
    listed = ex.cli("list", "--json")
    if listed.exit_code != 0 or listed.json().get("count") != 0:
        raise violated("refusal-wrote", "a refused submission is listed", listed)


def follow_up(ex: Example, secret: str) -> None:
    """After any case: a good submission ingests, audit --all passes, doctor finds nothing."""
    good = ex.root / "good"
    good.mkdir()
    (good / "good.txt").write_bytes(b"a good submission after the case\n")
    (good / "metadata.yaml").write_bytes(S.Metadata().render())
    for args, what in (
        (("ingest", str(good), "--profile", "heritage", "--json"), "the next good ingest"),
        (("audit", "--all", "--json"), "audit --all"),
        (("doctor", "--json"), "doctor"),
    ):
        run = ex.cli(*args)
        check_common(run, secret, what)
        if run.exit_code != 0:
            raise violated("bricked", f"after the case, {what} fails", run)
        if what == "doctor" and run.json().get("issues"):
            raise violated("bricked", "after the case, doctor finds something to settle", run)


def trust_invariant(
    sub: S.Submission,
    scratch: Path,
    worker: Worker,
    profile: str = "heritage",
    extra: Callable[[Example, S.Built, Run, str | None], None] | None = None,
) -> None:
    ex = new_example(scratch, worker)
    try:
        built = S.build(sub, ex.root)
        before = snapshot(ex.root, ex.home)
        run = ex.cli("ingest", str(built.path), "--profile", profile, "--json")
        check_common(run, built.secret, "ingest")
        package: str | None = None
        if run.exit_code == 0:
            package = check_stored(ex, built, run)
        elif run.exit_code == 1:
            check_refused(ex, run)
        else:
            raise violated("bad-exit", f"ingest exited {run.exit_code}: neither stored (0) nor refused (1)", run)
        if snapshot(ex.root, ex.home) != before:
            after = snapshot(ex.root, ex.home)
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            raise violated("wrote-outside", f"the ingest changed files beside the archive home: {changed}", run)
        if extra is not None:
            extra(ex, built, run, package)
        follow_up(ex, built.secret)
        hits = sweep(ex.home, built.secret)
        if hits:
            raise violated("leak:storage", f"the canary reached the archive home: {hits}", run)
    except Violation as exc:  # the submission's model, since pytest plugins may hide hypothesis's
        raise type(exc)(f"{exc}\n--- submission\n{sub!r}") from None
    finally:
        remove(ex.root)


# --------------------------------------------------------------------------------------------
# the properties


@known_failure
@examples(25)
@given(sub=S.folder_submissions(deep="sometimes"))
def test_folder_trees_are_stored_exactly_or_refused_cleanly(sub: S.Submission, scratch: Path, worker: Worker) -> None:
    """Random trees: unicode, NFC/NFD and case twins, control characters, separators, long
    names, links to the canary, FIFOs, hard links, empty files."""
    trust_invariant(sub, scratch, worker)


@known_failure
@examples(20)
@given(sub=S.metadata_submissions())
def test_metadata_files_are_stored_exactly_or_refused_cleanly(sub: S.Submission, scratch: Path, worker: Worker) -> None:
    """metadata.yaml/.yml/.json and metadata/files.csv: duplicates, access levels, a second
    metadata file, links to the canary (file or folder), FIFOs; in folders and bags."""
    trust_invariant(sub, scratch, worker)


@known_failure
@examples(30)
@given(sub=S.archive_submissions())
def test_archives_are_stored_exactly_or_refused_cleanly(sub: S.Submission, scratch: Path, worker: Worker) -> None:
    """.zip/.tar/.tar.gz from trees (their links and FIFOs as members) plus member mutations:
    duplicates, '..', absolute names, NUL, lying sizes and CRCs, links to the canary, devices."""
    trust_invariant(sub, scratch, worker)


#: the minimal bag the first run found failing (KNOWN_FAILURES), always tried first
UTF16_WITHOUT_BOM = S.Submission(
    "bag", (S.Entry(("f.txt",), "file", b"hi\n"),), S.Metadata(), None, S.BagSpec(encoding="UTF-16", encode_tags=False)
)


@known_failure
@examples(30)
@given(sub=S.bag_submissions())
@example(sub=UTF16_WITHOUT_BOM)
def test_bags_are_stored_exactly_or_refused_cleanly(sub: S.Submission, scratch: Path, worker: Worker) -> None:
    """Bags from trees: valid or mutated manifests, tag manifests, Payload-Oxum, versions,
    Tag-File-Character-Encoding values; links and FIFOs in every tag file, a tag folder, data/."""
    trust_invariant(sub, scratch, worker)


def _faithful_metadata(ex: Example, built: S.Built, run: Run, package: str | None, sub: S.Submission) -> None:
    meta, csv_spec = sub.metadata, sub.files_csv
    ambiguous = [
        what
        for what, yes in (
            ("metadata (a key given twice)", meta.ambiguous()),
            (
                "files.csv (a column given twice)",
                csv_spec is not None and csv_spec.site == "file" and csv_spec.ambiguous(),
            ),
        )
        if yes
    ]
    if package is not None and ambiguous:
        raise violated("guessed-metadata", f"accepted ambiguous {ambiguous}: which value was stored is a guess", run)
    if meta.site != "file" or meta.second:
        return
    allowed = meta.allowed_access()
    if package is None:
        return  # refused: always allowed here (the invariant judged the refusal)
    listed = ex.cli("list", "--json").json()["packages"]
    level = next(p["access_level"] for p in listed if p["id"] == package)
    if level not in allowed:
        raise violated("access", f"recorded access level {level!r}; the metadata allows only {sorted(allowed)}", run)


@known_failure
@examples(20)
@given(sub=S.access_submissions() | S.metadata_submissions())
def test_metadata_is_never_guessed(sub: S.Submission, scratch: Path, worker: Worker) -> None:
    """A duplicate key or column with different values is refused; the access level recorded
    is the one the metadata states (levels, embargo dates, invalid and loose values)."""
    trust_invariant(sub, scratch, worker, extra=lambda ex, b, r, p: _faithful_metadata(ex, b, r, p, sub))


@known_failure
@examples(12)
@given(sub=S.bag_submissions(breaking_only=True))
def test_a_bag_that_contradicts_itself_is_never_accepted(sub: S.Submission, scratch: Path, worker: Worker) -> None:
    """A bag whose own manifests, tag manifests or Payload-Oxum are false is refused."""

    def never_accepted(ex: Example, built: S.Built, run: Run, package: str | None) -> None:
        if package is not None:
            raise violated("accepted-invalid-bag", f"accepted a bag with {sub.bag.mutations if sub.bag else ()}", run)

    trust_invariant(sub, scratch, worker, extra=never_accepted)


@pytest.mark.slow
@known_failure
@examples(8)
@given(
    sub=S.folder_submissions(deep="always")
    | S.archive_submissions().filter(lambda s: any(len(e.parts) > 50 for e in s.tree))
)
def test_deep_chains_are_stored_exactly_or_refused_cleanly(sub: S.Submission, scratch: Path, worker: Worker) -> None:
    """Folders nested 100 to 600 deep, in folders and archives."""
    trust_invariant(sub, scratch, worker)


# --------------------------------------------------------------------------------------------
# the harness can see what it looks for


def test_the_harness_sees_a_leak_a_hang_and_a_write(scratch: Path, worker: Worker) -> None:
    ex = new_example(scratch, worker)
    secret = S.plant_canary(ex.root / "outside")
    (ex.home / "storage").mkdir()
    (ex.home / "storage" / "leak.txt").write_bytes((ex.root / "outside" / "canary.yaml").read_bytes())
    assert sweep(ex.home, secret), "the sweep misses the canary in storage"
    assert leaks(secret.encode("utf-16-le"), secret)
    with pytest.raises(Violation, match="refusal-wrote"):
        check_refused(ex, Run([], 1, b'{"ok": false, "error": {"findings": [{"code": "E137"}]}}', b"", ""))
    hang = worker.run("ingest", str(ex.root / "outside" / "canary.fifo"), "--profile", "heritage", timeout=30)
    assert not hang.timed_out, "a FIFO as the submission itself hangs the CLI"  # E102, never opened
    slow = worker.run("--help", timeout=0.0001)
    assert slow.timed_out or slow.exit_code == 0
    again = worker.run("--version")
    assert again.exit_code == 0, again.show()
    remove(ex.root)
