"""The archive of record: its tables, appending and disposing, the hash chains, the audit log, and the read queries."""
