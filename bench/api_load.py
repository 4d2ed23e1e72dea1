"""Helpers for bench/api.py (b): a synthetic catalog of N packages and a small keep-alive load generator."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

#: subject terms shared by many packages (a search for one matches a large share of the catalog)
COMMON = [
    "harbour",
    "quay",
    "lighthouse",
    "herring",
    "fishing",
    "pier",
    "salinity",
    "estuary",
    "sensor",
    "temperature",
    "contract",
    "invoice",
    "delivery",
    "buoy",
    "mooring",
    "photograph",
    "negative",
    "glass",
    "archive",
    "survey",
    "coastal",
    "marsh",
    "tide",
    "storm",
    "river",
    "bridge",
    "railway",
    "station",
    "market",
    "church",
    "school",
    "letter",
    "diary",
    "map",
    "chart",
    "census",
    "ledger",
]
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "te",
    "vi",
    "wo",
    "za",
    "bre",
    "cla",
    "dri",
    "fen",
    "gor",
    "hul",
    "jas",
    "kin",
    "lum",
    "mor",
]
#: a larger vocabulary for titles and descriptions, drawn with a Zipf-like frequency
VOCABULARY = sorted({a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES[:13]})[:5000]
_WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]


def _package(i: int, rng: random.Random) -> Any:
    from archive.model import Access, Agent, Event, FileRecord, FormatInfo, Package, utcnow

    pid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    title = " ".join(rng.choices(VOCABULARY, _WEIGHTS, k=4)).capitalize() + f" {i}"
    created = utcnow() - timedelta(minutes=i)
    meta = {
        "title": title,
        "creator": [f"Person {rng.randrange(500)}"],
        "date": str(1900 + rng.randrange(120)),
        "description": " ".join(rng.choices(VOCABULARY, _WEIGHTS, k=30)),
        "subject": rng.sample(COMMON, 3),
        "collection": f"Collection {rng.randrange(40)}",
        "accession_number": f"BEN.{2000 + i % 25}.{i:05}",
    }
    files = [
        FileRecord(
            path=f"file-{n}.tif",
            size=1000 + n,
            digests={"sha256": "0" * 64, "sha512": "0" * 128},
            format=FormatInfo(puid="fmt/353", name="Tagged Image File Format", mime="image/tiff"),
        )
        for n in range(3)
    ]
    events = [
        Event(
            identifier=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            type="ingestion",
            datetime=created,
            detail="bench",
            outcome="success",
        )
    ]
    level = "restricted" if i % 10 == 0 else "open"
    return Package(
        id=pid,
        profile_id="heritage",
        profile_version="1.0.0",
        created=created,
        metadata=meta,
        dublin_core={"title": [title]},
        access=Access(level=level),
        files=files,
        events=events,
        agents=[Agent(identifier="software:bench", name="bench", type="software")],
    )


def build_catalog(home: Path, count: int, database_url: str = "") -> tuple[list[str], str]:
    """A catalog of ``count`` synthetic packages (reused when it already holds them): ids and a token."""
    from archive.config import load_settings
    from archive.services.context import ArchiveContext
    from archive.services.retrieve import tokens

    overrides = {"home": str(home), **({"database_url": database_url} if database_url else {})}
    settings = load_settings(env={}, overrides=overrides)
    with ArchiveContext(settings) as ctx:
        ctx.storage.ensure()
        have = ctx.catalog.count_packages()
        if have < count:
            rng = random.Random(have)
            for i in range(have, count):
                ctx.catalog.record_package(_package(i, rng), "bench", "0" * 64, {})
        ids = ctx.catalog.package_ids()[:count]
        _, token = tokens.create(ctx, "bench researcher", "researcher")
    return ids, token


async def _client(
    port: int,
    token: str,
    make_path: Callable[[], str],
    until: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            request = (
                f"GET {make_path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                "Accept: application/json\r\n\r\n"
            ).encode()
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


def load(port: int, token: str, make_path: Callable[[], str], clients: int, seconds: float) -> dict[str, float]:
    """``clients`` keep-alive connections asking one after another for ``seconds`` (after a 1 s warm-up)."""

    async def run(duration: float) -> tuple[list[float], list[int], float]:
        latencies: list[float] = []
        errors: list[int] = []
        start = time.perf_counter()
        until = start + duration
        await asyncio.gather(*(_client(port, token, make_path, until, latencies, errors) for _ in range(clients)))
        return latencies, errors, time.perf_counter() - start

    asyncio.run(run(1.0))
    latencies, errors, elapsed = asyncio.run(run(seconds))
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "errors": len(errors),
        "rps": n / elapsed,
        "p50": latencies[n // 2],
        "p99": latencies[min(n - 1, int(n * 0.99))],
    }
