"""Use cases: ingest, validate, show/list/export. They orchestrate the adapters; they never print."""
