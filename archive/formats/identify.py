"""Identify files' formats with one engine, caching by content and fanning out to worker processes."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sized
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import cast

from archive.batches import batched
from archive.errors import FormatError
from archive.faults import fault_point, register
from archive.formats.base import (
    ENGINE_FIDO,
    ENGINE_SIEGFRIED,
    ENGINES,
    OCTET_STREAM,
    BatchEngine,
    Engine,
    extension_of,
)
from archive.model import FormatInfo
from archive.subprocesses import worker_pool

register("identify.start", "identify.done")

#: cached answers kept per Identifier (LRU beyond this)
CACHE_SIZE = 10_000

Outcome = FormatInfo | FormatError

#: engines that parallelise a batch themselves (no worker processes needed)
_NATIVE_BATCH = frozenset({ENGINE_SIEGFRIED})


#: below this many files, starting fido's worker processes (about 1 s each) costs more than it saves
POOL_MIN_FILES = 256
#: files handed to a natively batching engine (siegfried) at a time
NATIVE_BATCH_FILES = 1000
#: files one task of fido's worker processes identifies
TASK_FILES = 32
#: files :meth:`Identifier.identify_many` looks at together (its memory is a few blocks', not a transfer's)
BLOCK_FILES = 1000
#: blocks with the worker processes while the next block is gathered
BLOCKS_AHEAD = 4
#: files identified between two progress reports (a worker pool or this process)
PROGRESS_EVERY = 50


def load_engine(name: str, signatures: str | None = None) -> Engine:
    """This process's shared engine called ``name`` ("fido" or "siegfried").

    ``signatures``: None for the engine's default set (fido: the set bundled with the archive;
    siegfried: its embedded default.sig); for fido ``"wheel"`` (opf-fido's own set) or a fido
    configuration folder; for siegfried a signature file.
    """
    if name == ENGINE_FIDO:
        from archive.formats import fido_engine

        return fido_engine.get_engine(signatures)
    if name == ENGINE_SIEGFRIED:
        from archive.formats import siegfried_engine

        return siegfried_engine.get_engine(signatures)
    raise _unknown(name)


def mime_for(puid: str | None) -> str:
    """A Content-Type for ``puid`` from fido's PRONOM data; application/octet-stream if unknown."""
    if not puid:
        return OCTET_STREAM
    from archive.formats import fido_engine

    return fido_engine.get_engine().mime_for(puid) or OCTET_STREAM


@dataclass
class _Block:
    """Up to :data:`BLOCK_FILES` items of :meth:`Identifier.identify_many` between their lookup in
    the cache and their answers: the cached answers (None where not cached), one path per distinct
    content not cached, and the worker tasks identifying those (none: identified here)."""

    keys: list[tuple[str, str] | None]
    results: list[FormatInfo | None] = field(default_factory=list)
    todo: dict[tuple[str, str] | int, str] = field(default_factory=dict)
    tasks: list[Future[list[Outcome]]] = field(default_factory=list)


class Identifier:
    """Identify files with ``engine``; ``workers`` > 1 spreads ``identify_many`` over processes;
    ``signatures`` picks another signature set (see :func:`load_engine`)."""

    def __init__(self, engine: str = ENGINE_FIDO, workers: int = 1, signatures: str | None = None) -> None:
        if engine not in ENGINES:
            raise _unknown(engine)
        if workers < 1:
            raise FormatError(f"workers must be at least 1, not {workers}")
        self.engine_name = engine
        self.workers = workers
        self.signatures = signatures
        self._engine: Engine | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], FormatInfo] = OrderedDict()
        self.hits = 0
        self.misses = 0
        #: (tool version, signature version) as the worker processes reported them
        self._reported: tuple[str, str] | None = None

    # -- the engine and what it reports about itself ---------------------------------------
    @property
    def engine(self) -> Engine:
        """The engine loaded in this process (loaded on first use)."""
        if self._engine is None:
            self._engine = load_engine(self.engine_name, self.signatures)
        return self._engine

    @property
    def tool(self) -> str:
        return self.engine_name

    @property
    def tool_version(self) -> str:
        return self._reported[0] if self._reported else self.engine.tool_version

    @property
    def signature_version(self) -> str:
        """What the identifications were made with: as the worker processes reported it, so the
        engine (about 2 s to load fido's signatures) is not loaded here just to name it."""
        return self._reported[1] if self._reported else self.engine.signature_version

    # -- identification --------------------------------------------------------------------
    def identify(self, path: str, digest: str | None = None) -> FormatInfo:
        """Identify one file in place; with ``digest`` (sha256 hex) the answer is cached for
        content with that digest under the same extension. The cached answer is the whole
        FormatInfo: its basis (an extension guess stays a guess) and warnings come back with it."""
        key = _key(path, digest)
        cached = self._cached(key)
        if cached is not None:
            return cached
        info = self.engine.identify(path)
        self._store(key, info)
        return info

    def identify_many(
        self,
        items: Iterable[tuple[str, str | None]],
        progress: Callable[[int, int], None] | None = None,
        total: int = 0,
    ) -> list[FormatInfo]:
        """Identify ``(path, digest)`` pairs, in order; each distinct content is identified once
        (while the cache holds its answer: :data:`CACHE_SIZE` contents). ``progress`` is told
        ``(files done, files)`` as the work goes; ``total`` is the number of files when ``items``
        has no length (a generator).

        The work goes a block of :data:`BLOCK_FILES` items at a time and every answer is one
        shared instance per distinct answer (a transfer of a million files has a few dozen), so
        what is held stays the answers' list, not a key, a path and an answer object per file.
        A big transfer's blocks go to worker processes and up to :data:`BLOCKS_AHEAD` of them are
        with the workers while the next is taken from ``items``: a caller that hashes the files
        as it yields them keeps hashing while earlier files are identified.

        Raises FormatError for the first file (in ``items`` order) that could not be read,
        after caching every answer that was obtained.
        """
        fault_point("identify.start")
        total = len(items) if isinstance(items, Sized) else total
        report = progress or (lambda done, total: None)
        interned: dict[FormatInfo, FormatInfo] = {}
        results: list[FormatInfo] = []
        first_error: FormatError | None = None
        ahead: deque[_Block] = deque()

        def settle(block: _Block) -> None:
            nonlocal first_error
            before = len(results)
            answers, error = self._finish(block, interned, lambda done: report(before + done, total))
            results.extend(answers)
            first_error = first_error or error
            report(len(results), total)

        for chunk in batched(items, BLOCK_FILES):
            block = self._start(chunk, full=len(chunk) == BLOCK_FILES)
            ahead.append(block)
            while ahead and (len(ahead) > BLOCKS_AHEAD or (block.todo and not block.tasks)):
                settle(ahead.popleft())  # in order; a block identified here is settled at once
        while ahead:
            settle(ahead.popleft())
        if first_error is not None:
            raise first_error
        fault_point("identify.done")
        return results

    def _start(self, items: list[tuple[str, str | None]], full: bool) -> _Block:
        """Look a block up in the cache and, for a big transfer (``full``: more blocks are likely
        to follow) or once the workers run, hand what is left to the worker processes."""
        block = _Block([_key(path, digest) for path, digest in items])
        for i, ((path, _), key) in enumerate(zip(items, block.keys, strict=False)):
            cached = self._cached(key) if key is not None else None
            block.results.append(cached)
            if cached is None:
                block.todo.setdefault(key if key is not None else i, path)
        paths = list(block.todo.values())
        if paths and self._pooled(len(paths), full):
            size = NATIVE_BATCH_FILES if self.engine_name in _NATIVE_BATCH else TASK_FILES
            pool = self._executor()
            try:
                block.tasks = [
                    pool.submit(_work_many, paths[i : i + size], self.workers) for i in range(0, len(paths), size)
                ]
            except BrokenProcessPool as exc:
                raise self._broken(exc) from exc
        return block

    def _broken(self, exc: BrokenProcessPool) -> FormatError:
        """The error for a worker that died (its pool is closed: the next call starts another)."""
        self.close()
        return FormatError(f"a format identification worker died: {exc}")

    def _pooled(self, files: int, full: bool) -> bool:
        """Whether these files go to worker processes: once they run, always; siegfried (which
        holds this process while it works) for a big transfer; fido with several workers for
        :data:`POOL_MIN_FILES` files or more."""
        if self._pool is not None:
            return True
        if self.engine_name in _NATIVE_BATCH:
            return full
        return self.workers > 1 and files >= POOL_MIN_FILES

    def _finish(
        self, block: _Block, interned: dict[FormatInfo, FormatInfo], progress: Callable[[int], None]
    ) -> tuple[list[FormatInfo], FormatError | None]:
        """A block's answers (those that could be had, one shared instance per distinct answer)
        and its first error: taken from the workers, or identified here."""
        todo = block.todo
        if block.tasks:
            found: list[Outcome] = []
            try:
                for task in block.tasks:
                    found += task.result()
                    progress(len(found))
            except BrokenProcessPool as exc:
                raise self._broken(exc) from exc
            block.tasks = []
        else:
            found = self._run(list(todo.values()), lambda done, _: progress(done))
        outcomes = dict(zip(todo, found, strict=False))
        for k, outcome in outcomes.items():
            if isinstance(outcome, FormatInfo):
                if self._reported is None and outcome.tool == self.engine_name and outcome.tool_version:
                    self._reported = (outcome.tool_version, outcome.signature_version)
                outcome = outcomes[k] = interned.setdefault(outcome, outcome)
                if not isinstance(k, int):
                    self._store(k, outcome)
        first_error: FormatError | None = None
        results = block.results
        for i, key in enumerate(block.keys):
            if results[i] is None:
                outcome = outcomes[key if key is not None else i]
                if isinstance(outcome, FormatError):
                    first_error = first_error or outcome
                else:
                    results[i] = outcome
        return [interned.setdefault(r, r) for r in results if r is not None], first_error

    def _run(self, paths: list[str], progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
        """Identify ``paths`` in this process (siegfried natively batched)."""
        if not paths:
            return []
        total = len(paths)
        report = progress or (lambda done, total: None)
        if self.engine_name in _NATIVE_BATCH:  # siegfried: Go-side concurrency
            # a batch at a time: the engine's answer for a whole transfer at once (one JSON document,
            # held by Go and by Python) grew the process by several KB per file
            engine = cast(BatchEngine, self.engine)
            out: list[Outcome] = []
            for start in range(0, total, NATIVE_BATCH_FILES):
                out += engine.identify_batch(paths[start : start + NATIVE_BATCH_FILES], self.workers)
                report(len(out), total)
            return out
        return _reported((_outcome(self.engine, p) for p in paths), total, report)

    # -- cache -----------------------------------------------------------------------------
    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self.hits = self.misses = 0

    def _cached(self, key: tuple[str, str] | None) -> FormatInfo | None:
        if key is None:
            self.misses += 1
            return None
        with self._lock:
            info = self._cache.get(key)
            if info is None:
                self.misses += 1
                return None
            self._cache.move_to_end(key)
            self.hits += 1
            return info

    def _store(self, key: tuple[str, str] | None, info: FormatInfo) -> None:
        if key is None:
            return
        with self._lock:
            self._cache[key] = info
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    # -- worker pool -----------------------------------------------------------------------
    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # siegfried: one process with threads of its own; fido: a process per worker
                self._pool = worker_pool(
                    1 if self.engine_name in _NATIVE_BATCH else self.workers,
                    _init_worker,
                    (self.engine_name, self.signatures),
                )
            return self._pool

    def close(self) -> None:
        """Stop the worker processes (a later call starts new ones)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Identifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reported(answers: Iterable[Outcome], total: int, report: Callable[[int, int], None]) -> list[Outcome]:
    """The answers as they come, telling ``report`` every :data:`PROGRESS_EVERY` and at the end."""
    out: list[Outcome] = []
    for answer in answers:
        out.append(answer)
        if len(out) % PROGRESS_EVERY == 0 or len(out) == total:
            report(len(out), total)
    return out


def _unknown(name: str) -> FormatError:
    return FormatError(f"unknown format identification engine {name!r} (known: {', '.join(ENGINES)})")


def _key(path: str, digest: str | None) -> tuple[str, str] | None:
    """Cache key: content digest plus extension (engines use the name's extension too)."""
    return (digest.lower(), extension_of(path)) if digest else None


def _outcome(engine: Engine, path: str) -> Outcome:
    try:
        return engine.identify(path)
    except FormatError as exc:
        return exc


_worker_engine: Engine | None = None


def _init_worker(engine_name: str, signatures: str | None = None) -> None:
    """Pool initializer: load the engine once per worker process."""
    global _worker_engine
    _worker_engine = load_engine(engine_name, signatures)


def _work_many(paths: list[str], threads: int) -> list[Outcome]:
    """One task of a worker process: ``paths`` identified, siegfried with ``threads`` of its own."""
    engine = _worker_engine
    if engine is None:
        return [FormatError("format identification worker has no engine") for _ in paths]
    if engine.name in _NATIVE_BATCH:
        return cast(BatchEngine, engine).identify_batch(paths, threads)
    return [_outcome(engine, p) for p in paths]
