"""Statement helpers the processor and the archive share.

:func:`among` lives in :mod:`ingest.db` (staging uses it too, and ingest does not import
adapters); it is re-exported here for the adapters that import it from this module.
"""

from __future__ import annotations

from ingest.db import among

__all__ = ["among"]
