"""Bundled XML schemas (METS 1.12.1, PREMIS 3, MODS, DC, xlink, xml): see PROVENANCE.md.

A package (not plain data) so setuptools ships the ``*.xsd`` files with ``archive.packaging``.
Every ``schemaLocation`` points at a sibling file: compiling never needs the network.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent
#: the entry point: upstream METS + PREMIS + MODS + DC wrapper, plus DCMI's simpledc container
ENTRY_SCHEMA = SCHEMA_DIR / "archive_aip.xsd"

__all__ = ["ENTRY_SCHEMA", "SCHEMA_DIR"]
