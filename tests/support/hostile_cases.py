"""Build the hostile submissions corpus in ``tests/data/hostile/`` (see its README.md).

A case folder holds ``case.yaml`` (what to expect) and one way of making the submission, tried
in this order: ``build.py`` with ``build(dest: Path) -> Path``; an ``archive:`` spec in
``case.yaml`` (a .zip or .tar built from a list of members); a ``submission`` folder or file
copied as is. Everything is built under the test's ``tmp_path``, never in the repository.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import shutil
import stat
import struct
import tarfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HOSTILE = Path(__file__).resolve().parents[1] / "data" / "hostile"

#: valid heritage metadata, so that each case fails only for the reason it is named after
METADATA_YAML = """\
title: Hostile corpus case
accession_number: HHM.2024.900
collection: Test collection
provenance: Made for the hostile submissions corpus.
rights_statement: https://rightsstatements.org/vocab/NoC-US/1.0/
"""


@dataclass
class Case:
    folder: Path
    expect: str
    description: str
    profile: str = "heritage"
    settings: dict[str, Any] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)
    requires_root: bool = False

    @property
    def name(self) -> str:
        return self.folder.name

    def build(self, dest: Path) -> Path:
        """Make the submission under ``dest`` (an empty folder) and return its path."""
        dest.mkdir(parents=True, exist_ok=True)
        script = self.folder / "build.py"
        if script.is_file():
            module_spec = importlib.util.spec_from_file_location(f"hostile_{self.name}", script)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return Path(module.build(dest))
        if "archive" in self.spec:
            return make_archive(dest, self.spec["archive"])
        source = self.folder / "submission"
        if source.is_dir():
            shutil.copytree(source, dest / "submission", symlinks=True)
            return dest / "submission"
        raise AssertionError(f"{self.folder}: no build.py, archive: spec or submission folder")

    def cli_args(self, submission: Path, build_dir: Path) -> list[str]:
        extra = [a.replace("{build}", str(build_dir)) for a in self.args]
        return ["ingest", str(submission), "--profile", self.profile, *extra]


def load_cases(group: str = "") -> list[Case]:
    """The cases in ``tests/data/hostile`` (``group`` "" for rejected, "accepted" for accepted)."""
    root = HOSTILE / group if group else HOSTILE
    cases = []
    for folder in sorted(p for p in root.iterdir() if (p / "case.yaml").is_file()):
        spec = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
        cases.append(
            Case(
                folder=folder,
                expect=str(spec["expect"]),
                description=spec["description"],
                profile=spec.get("profile", "heritage"),
                settings=spec.get("settings", {}),
                args=[str(a) for a in spec.get("args", [])],
                spec=spec,
                requires_root=bool(spec.get("requires_root", False)),
            )
        )
    return cases


def write_metadata(root: Path) -> None:
    (root / "metadata.yaml").write_text(METADATA_YAML, encoding="utf-8")


#: a profile that refuses every file it cannot identify from its content
STRICT_FORMATS = "id: strict-formats\nversion: '1'\nextends: heritage\nformats:\n  unidentified: reject\n"


def own_profile_submission(dest: Path, profile_id: str, profile_yaml: str, metadata: str | None = None) -> Path:
    """``dest/profiles/<id>.yaml`` (the case's ``profiles_dirs: [../build/profiles]``) and an empty
    submission folder ``dest/submission`` with valid metadata (or ``metadata``); returns the folder."""
    (dest / "profiles").mkdir(parents=True, exist_ok=True)
    (dest / "profiles" / f"{profile_id}.yaml").write_text(profile_yaml, encoding="utf-8")
    root = dest / "submission"
    root.mkdir()
    (root / "metadata.yaml").write_text(METADATA_YAML if metadata is None else metadata, encoding="utf-8")
    return root


def _member_data(member: dict[str, Any]) -> bytes:
    if "zeros" in member:
        return bytes(int(member["zeros"]))
    data = member.get("data", "content\n")
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "chr": tarfile.CHRTYPE,
    "blk": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}
_ZIP_MODES = {
    "file": stat.S_IFREG | 0o644,
    "dir": stat.S_IFDIR | 0o755,
    "symlink": stat.S_IFLNK | 0o777,
    "chr": stat.S_IFCHR | 0o644,
    "fifo": stat.S_IFIFO | 0o644,
}


def make_archive(dest: Path, spec: dict[str, Any]) -> Path:
    """A .zip, .tar or .tar.gz from ``spec``: ``name``, ``metadata`` (add metadata.yaml), ``members``.

    A member is ``{name, type: file|dir|symlink|hardlink|chr|blk|fifo, data | zeros, target}``;
    """
    path = dest / spec["name"]
    members: list[dict[str, Any]] = list(spec.get("members", []))
    if spec.get("metadata", True):
        prefix = spec.get("metadata_prefix", "")
        members.insert(0, {"name": f"{prefix}metadata.yaml", "data": METADATA_YAML})
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Duplicate name" is what a case may want
            for m in members:
                kind = m.get("type", "file")
                info = zipfile.ZipInfo(m["name"] + ("/" if kind == "dir" and not m["name"].endswith("/") else ""))
                info.external_attr = _ZIP_MODES[kind] << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                body = m.get("target", "").encode() if kind == "symlink" else _member_data(m) if kind == "file" else b""
                zf.writestr(info, body)
        return path
    with tarfile.open(
        path,
        "w:gz" if path.name.endswith((".tar.gz", ".tgz")) else "w",  # type: ignore[call-overload]
        format=tarfile.PAX_FORMAT,
    ) as tf:
        for m in members:
            kind = m.get("type", "file")
            entry = tarfile.TarInfo(m["name"])
            entry.type = _TAR_TYPES[kind]
            entry.mode = 0o755 if kind == "dir" else 0o644
            data = _member_data(m) if kind == "file" else b""
            entry.size = len(data)
            entry.linkname = m.get("target", "")
            tf.addfile(entry, io.BytesIO(data) if kind == "file" else None)
    return path


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, i = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[i]
        vector >>= 1
        i += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_append_zeros(crc: int, n: int) -> int:
    """``zlib.crc32(data + bytes(n))`` from ``crc == zlib.crc32(data)``, in O(log n) (as zlib's crc32_combine).

    Appending a zero byte acts linearly on the CRC register, so the operator for ``n`` zero
    bytes is built by repeated squaring; bombs of gigabytes get honest CRCs in milliseconds.
    """
    operator = [0xEDB88320] + [1 << i for i in range(31)]  # one zero bit
    for _ in range(3):
        operator = _gf2_square(operator)  # 2, 4, then 8 zero bits: one zero byte
    register = crc ^ 0xFFFFFFFF
    while n:
        if n & 1:
            register = _gf2_times(operator, register)
        n >>= 1
        if n:
            operator = _gf2_square(operator)
    return register ^ 0xFFFFFFFF


def deflate_zeros(count_mib: int, prefix: bytes = b"", suffix: bytes = b"", wbits: int = -15) -> bytes:
    """A deflate stream of ``prefix + count_mib MiB of zeros + suffix``, built in about 1 KB per MiB.

    After a full flush the compressor starts afresh, so every MiB of zeros compresses to the
    same bytes: compute them once and repeat them.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "zlib did not reset after a full flush"
    tail = compressor.compress(suffix) + compressor.flush(zlib.Z_FINISH)
    return head + block * count_mib + tail


@dataclass
class ZipEntry:
    """One member of a hand-written zip: ``deflated`` is a raw deflate stream; the headers say
    ``size`` and ``crc`` (whatever the stream really holds) and carry ``flags``."""

    name: str
    deflated: bytes
    size: int
    crc: int
    flags: int = 0

    @classmethod
    def of(cls, name: str, data: bytes, flags: int = 0) -> ZipEntry:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return cls(name, compressor.compress(data) + compressor.flush(), len(data), zlib.crc32(data), flags)


def write_zip(path: Path, entries: list[ZipEntry]) -> Path:
    """A zip written by hand, to say what ``zipfile`` would not (zip64 fields when sizes need them)."""
    out = bytearray()
    central = bytearray()
    for e in entries:
        name = e.name.encode()
        big = e.size >= 0xFFFFFFFF or len(e.deflated) >= 0xFFFFFFFF
        sizes = (0xFFFFFFFF, 0xFFFFFFFF) if big else (len(e.deflated), e.size)
        extra = struct.pack("<HHQQ", 1, 16, e.size, len(e.deflated)) if big else b""
        version = 45 if big else 20
        offset = len(out)
        out += (
            struct.pack("<IHHHHHIIIHH", 0x04034B50, version, e.flags, 8, 0, 0x21, e.crc, *sizes, len(name), len(extra))
            + name
            + extra
            + e.deflated
        )
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            (3 << 8) | version,
            version,
            e.flags,
            8,
            0,
            0x21,
            e.crc,
            *sizes,
            len(name),
            len(extra),
            0,
            0,
            0,
            0o100644 << 16,
            offset,
        )
        central += name + extra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def write_bag(
    root: Path,
    payload: dict[str, bytes],
    extra_paths: tuple[str, ...] | list[str] = (),
    tag_files: dict[str, bytes] | None = None,
) -> Path:
    """A BagIt 1.0 bag with sha256/sha512 manifests and metadata.yaml beside them.

    ``extra_paths`` are listed in the manifests (with the digests of empty content) without
    being in the bag; ``tag_files`` are written into the bag's top folder as given.
    """
    (root / "data").mkdir(parents=True)
    entries = []
    for rel, data in payload.items():
        target = root / "data" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        entries.append((f"data/{rel}", data))
    entries.extend((path, b"") for path in extra_paths)
    for algo in ("sha256", "sha512"):
        lines = [f"{hashlib.new(algo, data).hexdigest()}  {path}\n" for path, data in entries]
        (root / f"manifest-{algo}.txt").write_text("".join(lines))
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    size = sum(len(d) for d in payload.values())
    (root / "bag-info.txt").write_text(f"Payload-Oxum: {size}.{len(payload)}\nContact-Name: Hostile corpus\n")
    for name, data in (tag_files or {}).items():
        (root / name).write_bytes(data)
    write_metadata(root)
    return root


def sparse_file(path: Path, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes that starts with ``head`` and takes (almost) no disk space."""
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path
