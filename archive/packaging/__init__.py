"""Packaging: the BagIt bag (``bag/``) and the METS + PREMIS document (``mets/``) every package is."""
