import io
import tarfile
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML


def build(dest: Path) -> Path:
    path = dest / "latin1.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as tf:
        for name, data in (("metadata.yaml", METADATA_YAML.encode()), ("caf\udce9.txt", b"named in Latin-1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path
