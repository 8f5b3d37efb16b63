"""Conversation disentanglement: who answers whom in a flat chat room (IRC-like), so that its
messages can be read as threads. Pure logic, no I/O; the ``threads`` adapter runs it in the
processor."""
