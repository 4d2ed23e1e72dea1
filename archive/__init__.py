"""archive: a digital preservation archive (BagIt + METS/PREMIS, PRONOM, fixity audits)."""

__version__ = "0.1.0"
