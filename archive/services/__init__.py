"""Use cases, one folder per journey (ingest, audit, retrieve, recovery); they orchestrate the adapters and never print."""
