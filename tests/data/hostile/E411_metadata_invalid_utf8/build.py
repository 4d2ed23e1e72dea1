from pathlib import Path

from tests.support.hostile_cases import METADATA_YAML


def build(dest: Path) -> Path:
    root = dest / "submission"
    root.mkdir()
    (root / "ok.txt").write_text("fine\n")
    (root / "metadata.yaml").write_bytes(METADATA_YAML.replace("Hostile", "Caf\u00e9").encode("latin-1"))
    return root
