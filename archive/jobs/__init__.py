"""The job queue: ingest and audit work handed to ``archive worker`` processes through the catalog's PostgreSQL."""
