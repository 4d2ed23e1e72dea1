"""Ingest: check a submission against its profile (prepare), then package, store, verify and record it."""
