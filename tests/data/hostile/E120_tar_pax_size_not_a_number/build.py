import io
import tarfile
from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML


def build(dest: Path) -> Path:
    path = dest / "paxsize.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for name, data, pax in (
            ("metadata.yaml", METADATA_YAML.encode(), {}),
            ("data.bin", b"x" * 1024, {"size": "12abc"}),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.pax_headers = pax
            tf.addfile(info, io.BytesIO(data))
    return path
