"""fido's signature files for PRONOM v116 with container signatures of 2023-11-27 (data only).

Loaded by :class:`archive.formats.fido_engine.FidoEngine` by default; see PROVENANCE.md here and
docs/decisions/0005-fido-signatures-pronom-v116.md for where they come from and why.
"""
