"""Archivist: the composition root (settings, command line) wiring the packages together."""
