"""The search API: the query language (parsed once into a tree), search backends, FastAPI routes."""
