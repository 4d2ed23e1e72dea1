"""Format identification against the PRONOM skeleton corpus (truth.csv), per engine.

    python bench/formats.py --corpus PATH/format-skeletons [--engine fido|siegfried|both] [--workers 2]

Per engine: exact (the one answer is the expected PUID) / PUID among several / another PUID /
nothing, out of all files, the top-1 hits (chosen PUID is the expected one, ties broken by
extension), and files/s through ``Identifier.identify_many`` (cold: worker start included;
warm: pool running, cache cleared). fido's recorded baseline: 1,915 exact of 1,991.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.formats import ENGINES, Identifier, also_matched  # noqa: E402
from archive.model import FormatInfo  # noqa: E402

BASELINE = {"exact": 1915, "among_several": 15, "other_puid": 38, "no_match": 23}
STATUSES = ("exact", "among_several", "other_puid", "no_match")


def status(expected: str, info: FormatInfo) -> str:
    if not info.puid:
        return "no_match"
    candidates = [info.puid, *also_matched(info)]
    if expected not in candidates:
        return "other_puid"
    return "exact" if len(candidates) == 1 else "among_several"


def run(engine: str, corpus: Path, rows: list[dict[str, str]], workers: int, misses: bool) -> None:
    items = [(str(corpus / r["path"]), hashlib.sha256((corpus / r["path"]).read_bytes()).hexdigest())
             for r in rows]
    with Identifier(engine, workers=workers) as ident:
        t0 = time.perf_counter()
        infos = ident.identify_many(items)
        cold = time.perf_counter() - t0
        ident.clear_cache()
        t0 = time.perf_counter()
        ident.identify_many(items)
        warm = time.perf_counter() - t0
        print(f"== {engine} {ident.tool_version} ({ident.signature_version}), workers={workers}")
    counts = dict.fromkeys(STATUSES, 0)
    top1 = agree = 0
    for row, info in zip(rows, infos):
        st = status(row["expected_puid"], info)
        counts[st] += 1
        top1 += info.puid == row["expected_puid"]
        recorded = set(filter(None, row["fido_1_6_1_v109"].split(";")))
        agree += recorded == ({info.puid, *also_matched(info)} - {None})
        if misses and st != "exact":
            print(f"   {st:13} {row['path']}: {info.puid} {info.warning}")
    n = len(rows)
    for st in STATUSES:
        print(f"   {st:13} {counts[st]:5} / {n}   (fido 1.6.1 v109 baseline {BASELINE[st]:5})")
    delta = counts["exact"] - BASELINE["exact"]
    print(f"   exact vs baseline: {delta:+d}; chosen PUID == expected: {top1} / {n}")
    if engine == "fido":
        print(f"   same PUID set as the recorded fido 1.6.1 answer: {agree} / {n}")
    print(f"   files/s: {n / cold:.0f} cold (incl. worker start), {n / warm:.0f} warm")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="the format-skeletons folder")
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--misses", action="store_true", help="list every file that is not exact")
    args = parser.parse_args()
    with open(args.corpus / "truth.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for engine in ENGINES if args.engine == "both" else [args.engine]:
        run(engine, args.corpus, rows, args.workers, args.misses)


if __name__ == "__main__":
    main()
