"""Review: review sets, coding (tags and notes), batches, redactions, the privilege log,
near-duplicate groups. A layer above ``exports`` (it builds review documents with the production's
document unit) and below ``search_api`` (HTTP only)."""
