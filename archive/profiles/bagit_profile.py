"""Express a profile's packaging rules as a BagIt-Profile 1.3.0 document.

Derived from the same Profile object ingest uses (checksums, id, version), so the export
cannot drift from what the archive actually writes.
"""

from __future__ import annotations

from typing import Any

from archive.model import SUBMISSION_FOLDER
from archive.packaging.mets.parts import PART_FOLDER
from archive.profiles.model import Profile

BAGIT_PROFILE_VERSION = "1.3.0"
#: tag files the archive writes at the root of every bag besides the manifests
TAG_FILES = ("bagit.txt", "bag-info.txt", "mets.xml")


def profile_identifier(profile: Profile) -> str:
    return f"urn:archive:bagit-profile:{profile.id}:{profile.version}"


def to_bagit_profile(profile: Profile, organisation: str) -> dict[str, Any]:
    algorithms = list(profile.checksums)
    manifests = [f"manifest-{a}.txt" for a in algorithms] + [f"tagmanifest-{a}.txt" for a in algorithms]
    return {
        "BagIt-Profile-Info": {
            "BagIt-Profile-Identifier": profile_identifier(profile),
            "BagIt-Profile-Version": BAGIT_PROFILE_VERSION,
            "Source-Organization": organisation,
            "External-Description": f"{profile.title}: {profile.description}".strip(),
            "Version": profile.version,
        },
        "Bag-Info": {
            "BagIt-Profile-Identifier": {
                "required": True,
                "repeatable": False,
                "values": [profile_identifier(profile)],
            },
            "Source-Organization": {"required": True, "repeatable": False, "values": [organisation]},
            "Bagging-Date": {"required": True, "repeatable": False},
            "Payload-Oxum": {"required": True, "repeatable": False},
            "External-Identifier": {"required": True, "repeatable": False, "description": "urn:uuid: of the package"},
            "Archive-Profile-Id": {"required": True, "repeatable": False, "values": [profile.id]},
            "Archive-Profile-Version": {"required": True, "repeatable": False, "values": [profile.version]},
        },
        "Manifests-Required": algorithms,
        "Manifests-Allowed": algorithms,
        "Tag-Manifests-Required": algorithms,
        "Tag-Manifests-Allowed": algorithms,
        "Tag-Files-Required": ["mets.xml"],
        "Tag-Files-Allowed": [*TAG_FILES, *manifests, f"{PART_FOLDER}/*", f"{SUBMISSION_FOLDER}/*"],
        "Allow-Fetch.txt": False,
        "Serialization": "optional",
        "Accept-Serialization": ["application/zip"],
        "Accept-BagIt-Version": ["1.0"],
    }
