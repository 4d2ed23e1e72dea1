"""Profiles: what each kind of collection requires (fields, formats, access, fixity)."""

from archive.profiles.bundled import BUNDLED_PROFILES
from archive.profiles.loader import NoProfiles, ProfileRegistry, check_profile_id
from archive.profiles.model import FieldSpec, FormatPolicy, Profile

__all__ = [
    "BUNDLED_PROFILES",
    "FieldSpec",
    "FormatPolicy",
    "NoProfiles",
    "Profile",
    "ProfileRegistry",
    "check_profile_id",
]
