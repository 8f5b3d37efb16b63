"""Ingest: the event contract, publishing, consuming and the staging store."""
