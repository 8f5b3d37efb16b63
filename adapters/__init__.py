"""Adapters: the batch processor and the places it delivers staged events to."""
