"""Packaging: BagIt validation and (later) METS/PREMIS package building."""
