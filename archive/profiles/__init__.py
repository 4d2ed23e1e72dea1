"""Profiles: what each kind of collection requires (fields, formats, access, fixity)."""

from archive.profiles.loader import ProfileRegistry, check_profile_id
from archive.profiles.model import FieldSpec, FormatPolicy, Profile

__all__ = ["FieldSpec", "FormatPolicy", "Profile", "ProfileRegistry", "check_profile_id"]
