from pathlib import Path

from tests.support.hostile_cases import write_bag


def build(dest: Path) -> Path:
    secret = dest / "secret.txt"
    secret.write_text("HOSTILE-CORPUS-SECRET\n")
    mets = (
        f'<?xml version="1.0"?>\n<!DOCTYPE mets [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n'
        '<mets xmlns="http://www.loc.gov/METS/" OBJID="&xxe;"/>\n'
    )
    return write_bag(dest / "bag", {"ok.txt": b"fine\n"}, tag_files={"mets.xml": mets.encode()})
