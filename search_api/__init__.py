"""The HTTP face of Archivist: FastAPI routes, server-rendered pages, authentication, health, metrics."""
