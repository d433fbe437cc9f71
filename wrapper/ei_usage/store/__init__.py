"""The usage history store: ``pip install 'ei-usage[store]'``.

SQLite in one file by default, PostgreSQL by URL; see :class:`Store`. :func:`sync` fills it from
the API, fetching each closed period once. Never imported by ``from ei_usage import Client``.
"""

from ._records import ComputeTimeChange, StoredComputeTime, StoredOrganization, SyncRun
from ._store import (
    DEFAULT_BUSY_TIMEOUT,
    DEFAULT_SETTLE,
    ENVIRONMENT_VARIABLE,
    Store,
    StoreError,
    default_path,
)
from ._sync import SyncInterrupted, SyncResult, sync

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_SETTLE",
    "ENVIRONMENT_VARIABLE",
    "ComputeTimeChange",
    "Store",
    "StoreError",
    "StoredComputeTime",
    "StoredOrganization",
    "SyncInterrupted",
    "SyncResult",
    "SyncRun",
    "default_path",
    "sync",
]
