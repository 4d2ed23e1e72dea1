"""Use cases, a folder per journey (ingest, audit, retrieve, recovery): they orchestrate adapters, never print."""
