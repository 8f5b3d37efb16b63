"""What review refuses: a thing that is not there (404) or a change the state does not allow
(409). The HTTP layer answers them (``search_api.refusals``); nothing is stored or audited then."""

from __future__ import annotations


class ReviewNotFound(LookupError):
    """No such review set, document, tag, tag group or batch (in that case or set)."""


class ReviewConflict(ValueError):
    """The change clashes with what is stored (a name or shortcut taken, a tag of another case,
    a group that is not empty)."""
