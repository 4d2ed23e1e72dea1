"""Retrieval: what a caller may see and take, served only when verified, recorded as usage."""
