import json
from pathlib import Path

DOCTYPE = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "{uri}"><!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'


def build(dest: Path) -> Path:
    secret = dest / "secret.txt"
    secret.write_text("HOSTILE-CORPUS-SECRET\n")
    doctype = DOCTYPE.format(uri=secret.as_uri())
    root = dest / "submission"
    root.mkdir()
    (root / "ok.txt").write_text("fine\n")
    (root / "evil.xml").write_text(f'<?xml version="1.0"?>\n{doctype}\n<r>&xxe;&lol2;</r>\n')
    (root / "metadata.json").write_text(
        json.dumps(
            {
                "title": f"{doctype}<r>&xxe;</r>",
                "accession_number": "HHM.2024.900",
                "collection": "]]><injected/><![CDATA[",
                "provenance": "&xxe; &lol2; <!-- comment --> <?pi?>",
                "rights_statement": "https://rightsstatements.org/vocab/NoC-US/1.0/",
            }
        )
    )
    return root
