from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML, ZipEntry, write_zip


def build(dest: Path) -> Path:
    path = write_zip(
        dest / "names.zip",
        [
            ZipEntry.of("metadata.yaml", METADATA_YAML.encode()),
            ZipEntry.of("../../report.txt", b"which name is true?\n"),
        ],
    )
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # rename the member in the directory only (same length)
    at = data.index(b"../../report.txt", central)
    data[at : at + 16] = b"reports/the.txt."
    path.write_bytes(bytes(data))
    return path
