"""Opening the history store for a command: the one place the command line imports it.

``ei_usage.store`` (SQLAlchemy, Alembic) is an extra and heavy, so it is imported here, only by
the commands that use a store (``sync``, ``history``, ``forecast``, ``check --forecast``,
``exporter --db``), never by the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import timedelta
    from types import ModuleType

STORE_EXTRA_HINT = "pip install 'ei-usage[store]'"
DB_HELP = (
    "The store: a SQLite file (default: history.sqlite3 in your user data directory) or a "
    "postgresql:// URL (a store shared by several tools). Also EI_USAGE_DB."
)


class StoreUnavailableError(Exception):
    """The store cannot be used; ``missing`` when its extra is not installed (a setup error)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def store_module(purpose: str = "this command needs") -> ModuleType:
    """Return ``ei_usage.store``.

    Raises:
        StoreUnavailableError: the store extra is not installed (``missing``).
    """
    try:
        # import_module, not `from ei_usage import store`: that form takes the package's
        # attribute when set and so never notices a store made unimportable since.
        store = importlib.import_module("ei_usage.store")
    except ImportError as error:
        raise StoreUnavailableError(
            f"{purpose} the history store, which is not installed ({error.name or error} is "
            f"missing): {STORE_EXTRA_HINT}",
            missing=True,
        ) from None
    return store


def open_store(
    db: str | None,
    *,
    create: bool,
    settle: timedelta | None = None,
    purpose: str = "this command needs",
) -> Any:
    """Open the store ``db`` names (None: ``EI_USAGE_DB``, else the default file).

    Args:
        db: a file path or a ``postgresql://`` URL, or None.
        create: create the store when it does not exist (else a missing store is an error).
        settle: how long after its end a period is still open (the store's default if None).
        purpose: how a missing extra is explained ("forecasts read", ...).

    Raises:
        StoreUnavailableError: the extra is missing, or the store cannot be opened (the
            message names the file or the URL without its password).
    """
    store = store_module(purpose)
    options: dict[str, Any] = {"create": create}
    if settle is not None:
        options["settle"] = settle
    try:
        return store.Store.open(db, **options)
    except store.StoreError as error:
        raise StoreUnavailableError(str(error)) from None
