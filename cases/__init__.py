"""Cases (matters), legal holds and retention: what legal preserves and what the archive disposes of."""
