"""What happens to a stored package after ingest: versions, decisions, holds, retention and disposal."""
