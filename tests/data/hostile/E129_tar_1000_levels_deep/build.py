import io
import tarfile
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML

LEVELS = 1000


def build(dest: Path) -> Path:
    path = dest / "deep.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("metadata.yaml")
        info.size = len(METADATA_YAML.encode())
        tf.addfile(info, io.BytesIO(METADATA_YAML.encode()))
        folder = ""
        for _ in range(LEVELS):
            folder += "d/"
            entry = tarfile.TarInfo(folder)
            entry.type = tarfile.DIRTYPE
            tf.addfile(entry)
        info = tarfile.TarInfo(folder + "deep.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"deep\n"))
    return path
