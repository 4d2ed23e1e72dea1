"""Helpers the tests share: archives to test against, hostile inputs, hypothesis strategies."""
