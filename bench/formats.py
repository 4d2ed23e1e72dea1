"""Format identification against the PRONOM skeleton corpus (truth.csv), per engine and signature set.

    python bench/formats.py --corpus PATH/format-skeletons [--engine fido|siegfried|both]
                            [--fido-signatures wheel bundled DIR ...] [--workers 2] [--random 300] [--misses]

For each engine (fido once per signature set: ``wheel`` is the set inside the installed opf-fido,
``bundled`` the one the archive ships in archive/formats/signatures/, or any fido conf folder):

* the corpus statuses as truth.csv counts them: exact (the one answer is the expected PUID) /
  among several / another PUID / none; the first fido set run is the baseline the others are
  compared with (and fido 1.6.1 v109's recorded figures, 1,915 / 15 / 38 / 23 of 1,991);
* the same answers split by basis: how many rest on the file's bytes (signature, container) and
  how many on the extension alone, and the honest count the format policy sees (an extension
  guess is unidentified);
* ``--random N``: N files of random bytes named with common extensions (.jpg, .pdf, .tif ...):
  how many each engine reports by signature (a true match of a weak signature, checked against
  stock fido for fido), by extension guess, or not at all;
* files/s through ``Identifier.identify_many`` (cold: worker start included; warm: pool running,
  cache cleared).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.formats import ENGINE_FIDO, ENGINES, Identifier, also_matched, by_content, guessed
from archive.model import FormatInfo

BASELINE = {"exact": 1915, "among_several": 15, "other_puid": 38, "no_match": 23}
STATUSES = ("exact", "among_several", "other_puid", "no_match")
RANDOM_EXTENSIONS = (
    "jpg",
    "pdf",
    "tif",
    "png",
    "gif",
    "doc",
    "docx",
    "xlsx",
    "zip",
    "mp3",
    "wav",
    "xml",
    "html",
    "txt",
    "csv",
    "odt",
    "mp4",
    "avi",
    "psd",
    "eps",
)


def status(expected: str, info: FormatInfo) -> str:
    if not info.puid:
        return "no_match"
    candidates = [info.puid, *also_matched(info)]
    if expected not in candidates:
        return "other_puid"
    return "exact" if len(candidates) == 1 else "among_several"


def _label(signatures: str | None) -> str:
    return "default" if signatures is None else signatures


def run(
    engine: str, signatures: str | None, corpus: Path, rows: list[dict[str, str]], workers: int, misses: bool
) -> tuple[dict[str, int], dict[str, int]]:
    items = [(str(corpus / r["path"]), hashlib.sha256((corpus / r["path"]).read_bytes()).hexdigest()) for r in rows]
    with Identifier(engine, workers=workers, signatures=signatures) as ident:
        t0 = time.perf_counter()
        infos = ident.identify_many(items)
        cold = time.perf_counter() - t0
        ident.clear_cache()
        t0 = time.perf_counter()
        ident.identify_many(items)
        warm = time.perf_counter() - t0
        print(
            f"== {engine} {ident.tool_version}, signatures {_label(signatures)}: {ident.signature_version}; "
            f"workers={workers}"
        )
    counts = dict.fromkeys(STATUSES, 0)
    honest = dict.fromkeys(STATUSES, 0)  # what the format policy sees: an extension guess is no match
    split: Counter[tuple[str, str]] = Counter()
    top1 = agree = 0
    for row, info in zip(rows, infos, strict=False):
        st = status(row["expected_puid"], info)
        counts[st] += 1
        split[st, "content" if by_content(info) else "extension" if guessed(info) else "none"] += 1
        honest[st if by_content(info) else "no_match"] += 1
        top1 += info.puid == row["expected_puid"]
        recorded = set(filter(None, row["fido_1_6_1_v109"].split(";")))
        agree += recorded == ({info.puid, *also_matched(info)} - {None})
        if misses and st != "exact":
            print(f"   {st:13} {row['path']}: {info.puid} [{info.basis}] {info.warning[:100]}")
    n = len(rows)
    print(f"   {'status':13} {'all':>5} {'bytes':>6} {'ext.':>5}  {'policy':>6}  (fido 1.6.1 v109 recorded)")
    for st in STATUSES:
        print(
            f"   {st:13} {counts[st]:5} {split[st, 'content']:6} {split[st, 'extension']:5}  {honest[st]:6}  "
            f"({BASELINE[st]})"
        )
    print(
        f"   of {n}: 'bytes' rest on a signature or container, 'ext.' on the extension alone; "
        "'policy' counts guesses as no match"
    )
    print(f"   chosen PUID == expected: {top1} / {n}")
    if engine == ENGINE_FIDO:
        print(f"   same PUID set as the recorded fido 1.6.1 v109 answer: {agree} / {n}")
    print(f"   files/s: {n / cold:.0f} cold (incl. worker start), {n / warm:.0f} warm")
    return counts, honest


def random_bytes(engine: str, signatures: str | None, count: int, seed: int = 20240904) -> None:
    """Random content under common extensions: a signature basis must be a true signature match."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, Identifier(engine, signatures=signatures) as ident:
        paths = []
        for i in range(count):
            path = Path(tmp) / f"random{i}.{rng.choice(RANDOM_EXTENSIONS)}"
            path.write_bytes(rng.randbytes(rng.randint(1, 4096)))
            paths.append(path)
        infos = ident.identify_many([(str(p), None) for p in paths])
        bases = Counter(i.basis for i in infos)
        confirmed = ""
        if engine == ENGINE_FIDO:
            from fido.fido import Fido

            core = ident.engine._fido  # type: ignore[attr-defined]
            true = 0
            for path, info in zip(paths, infos, strict=False):
                if info.basis == "signature":
                    data = path.read_bytes()
                    with contextlib.redirect_stderr(io.StringIO()):  # fido prints refused regexes
                        found = Fido.match_formats(core, data[: core.bufsize], data[-core.bufsize :])
                    true += info.puid in {core.get_puid(f) for f, _ in found}
            confirmed = f" ({true} confirmed by stock fido's matcher)"
        print(
            f"   random bytes x{count}: signature {bases['signature']}{confirmed}, container {bases['container']}, "
            f"extension guess {bases['extension']}, none {bases['none']}; "
            f"counted identified by the policy: {sum(by_content(i) for i in infos)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="the format-skeletons folder")
    parser.add_argument("--engine", choices=[*ENGINES, "both"], default="both")
    parser.add_argument(
        "--fido-signatures",
        nargs="+",
        default=["wheel", "bundled"],
        help="fido signature sets: 'wheel', 'bundled' or a fido conf folder (first = baseline)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--random", type=int, default=300, help="random-bytes files per engine (0: skip)")
    parser.add_argument("--misses", action="store_true", help="list every file that is not exact")
    args = parser.parse_args()
    with open(args.corpus / "truth.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    runs: list[tuple[str, str | None]] = []
    for engine in ENGINES if args.engine == "both" else [args.engine]:
        if engine == ENGINE_FIDO:
            runs += [(engine, None if s == "bundled" else s) for s in args.fido_signatures]
        else:
            runs.append((engine, None))
    base: tuple[dict[str, int], dict[str, int]] | None = None
    for engine, signatures in runs:
        counts, honest = run(engine, signatures, args.corpus, rows, args.workers, args.misses)
        if args.random:
            random_bytes(engine, signatures, args.random)
        if base is None:
            base = (counts, honest)
        else:
            print(
                "   vs the first run: "
                + ", ".join(
                    f"{st} {counts[st] - base[0][st]:+d} (policy {honest[st] - base[1][st]:+d})" for st in STATUSES
                )
            )


if __name__ == "__main__":
    main()
