"""Fixity audits: choose packages, check every copy, record and report, repair from a good copy, schedule."""
