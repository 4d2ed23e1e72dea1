"""The bundled profiles (``base``, ``heritage``, ``legal``, ``research``), shipped as package data.

They are installed with the package (wheel, sdist or editable install), so ``archive`` finds
them wherever it runs. An organisation's own profiles live outside the package, in folders named
by the ``profiles_dirs`` setting (the repository's top-level ``profiles/`` folder is meant for
them); those folders are searched first, so a profile there replaces a bundled one of the same id.
"""

from pathlib import Path

#: the folder holding the bundled profile YAML files
BUNDLED_PROFILES = Path(__file__).resolve().parent
