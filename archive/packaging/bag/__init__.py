"""BagIt bags (RFC 8493): manifest paths, writing tag files, reading and validating a bag."""
