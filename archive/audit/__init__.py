"""Fixity audits: what a check finds (findings), how one copy is checked (check), the run's budget,
notifications and the scheduler's window. Orchestrated by ``archive.services.audit.run``."""
