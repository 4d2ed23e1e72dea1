"""METS 1.12.1 with PREMIS 3: writing, reading back, and validating against the bundled schemas."""
