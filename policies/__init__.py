"""policies (arrives with a later issue)."""
