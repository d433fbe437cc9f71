"""The history store: SQLite in one file by default, PostgreSQL by URL.

SQLAlchemy Core (no ORM: the store is a handful of tables written in batches) speaks both
dialects, and Alembic migrates the schema, with its scripts shipped in this package and run on
open. Every write is one short transaction, committed before the method returns, so a process
killed at any point loses at most the write in progress, never a committed one.

SQLite runs in WAL mode (readers never wait for the writer) with a busy timeout: a second
process writing the same file waits for the first's transaction, and :attr:`Store.waited` says
how long it waited. Writes start with ``BEGIN IMMEDIATE``, so two writers queue at the start of a
transaction instead of failing half-way through one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import attrs
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from ei_usage._dates import PERIODS, DateRange
from ei_usage._errors import ResponseValidationError
from ei_usage._models import ComputeTime, Entitlements, InnerOrganization, InnerOrganizationUsage
from ei_usage._units import minutes, seconds

from . import _schema as s
from . import _wire
from ._records import (
    ComputeTimeChange,
    StoredComputeTime,
    StoredOrganization,
    SyncRun,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence
    from types import TracebackType

    from sqlalchemy.engine import Connection, Engine

    from ei_usage._dates import Every

DEFAULT_SETTLE = timedelta(days=3)
"""How long after a period ends its numbers are taken as final (usage can be reported late)."""

DEFAULT_BUSY_TIMEOUT = timedelta(seconds=30)
"""How long a SQLite writer waits for another process's transaction before giving up."""

ENVIRONMENT_VARIABLE = "EI_USAGE_DB"
_MIGRATIONS = Path(__file__).with_name("migrations")
_WRITE = "ei_usage_write"
_WAIT_NOTED = 0.05  # seconds: a BEGIN slower than this waited for another writer


class StoreError(Exception):
    """The store cannot be opened, read or written; the message names the file or URL.

    A URL is named without its password.
    """


def default_path() -> Path:
    """Return the default store: ``history.sqlite3`` in the user's data directory."""
    import platformdirs  # here: only a default store needs it

    return Path(platformdirs.user_data_dir("ei-usage", appauthor=False)) / "history.sqlite3"


def _target(url: str | os.PathLike[str] | None) -> tuple[URL, str, Path | None]:
    """Return the SQLAlchemy URL, the name to show, and the file (SQLite) of a store."""
    if url is None:
        url = os.environ.get(ENVIRONMENT_VARIABLE) or default_path()
    text = os.fspath(url)
    if isinstance(url, str) and "://" in text:
        try:
            parsed = make_url(text)
        except sa.exc.ArgumentError as error:
            raise StoreError(f"not a store URL: {error}") from None
        shown = parsed.render_as_string(hide_password=True)
        backend = parsed.get_backend_name()
        if backend == "postgresql":
            return parsed.set(drivername="postgresql+psycopg"), shown, None
        if backend == "sqlite" and parsed.database:
            path = Path(parsed.database).expanduser()
            return URL.create("sqlite+pysqlite", database=str(path)), str(path), path
        raise StoreError(
            f"{shown}: a store is a SQLite file (a path or sqlite:///path) or a postgresql:// URL"
        )
    path = Path(text).expanduser()
    return URL.create("sqlite+pysqlite", database=str(path)), str(path), path


def _reason(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0] if str(original).strip() else type(error).__name__


def _explain(name: str, error: BaseException, path: Path | None) -> str:
    reason = _reason(error)
    lowered = reason.lower()
    if path is not None:
        if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
            return (
                f"{name} is not a readable SQLite store ({reason}); it was left as it is. "
                "Give another --db, or move the file away"
            )
        if "readonly" in lowered or "read-only" in lowered:
            return f"{name} is read-only ({reason}); nothing was written"
        if "unable to open" in lowered:
            return f"cannot open {name} ({reason}): check that its directory exists and is writable"
        if "locked" in lowered or "busy" in lowered:
            return (
                f"{name} stayed locked by another process longer than the busy timeout "
                f"({reason}); nothing was written by this one"
            )
    return f"store {name}: {reason}"


class Store:
    """The usage history: organizations, entitlements, compute time, contract usage, syncs.

    Open one with :meth:`open`; it is a context manager and must be closed. It implements the
    ``UsageHistory`` protocol the client's report path reads through (:meth:`known_compute_time`
    and :meth:`save_compute_time`).

    Attributes:
        name: the file, or the URL without its password.
        settle: how long after a period ends its numbers count as final.
    """

    def __init__(self, engine: Engine, name: str, *, settle: timedelta) -> None:
        self._engine = engine
        self.name = name
        self.settle = settle
        self._waited = 0.0
        self._closed = False

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        settle: timedelta = DEFAULT_SETTLE,
        busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT,
    ) -> Store:
        """Open (and create or migrate) a store.

        Args:
            url: a SQLite file (a path, or ``sqlite:///path``) or a ``postgresql://`` URL (psycopg
                3). None: ``EI_USAGE_DB``, else ``history.sqlite3`` in the user's data directory.
            create: create a missing SQLite file (and its directory); False: a missing file is
                an error (reading commands).
            settle: how long after a period ends its numbers count as final.
            busy_timeout: how long a SQLite writer waits for another process's transaction.

        Raises:
            StoreError: the store cannot be opened, is not an ei-usage store, or was written by
                a newer ei-usage (a schema this one does not know); nothing is changed then.
        """
        if settle < timedelta(0):
            raise ValueError(f"settle must not be negative, got {settle}")
        sa_url, name, path = _target(url)
        if path is not None:
            if not create and not path.exists():
                raise StoreError(f"no store at {name}: run `ei-usage sync` first, or give --db")
            if path.is_dir():
                raise StoreError(f"{name} is a directory, not a store file")
            if create and not path.parent.exists():
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as error:
                    raise StoreError(f"cannot create the directory of {name}: {error}") from None
            engine = sa.create_engine(
                sa_url,
                connect_args={"timeout": busy_timeout.total_seconds()},
                pool_pre_ping=False,
            )
        else:
            engine = sa.create_engine(
                sa_url,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 10},
            )
        store = cls(engine, name, settle=settle)
        if path is not None:
            store._sqlite_events(busy_timeout)
        try:
            store._migrate(path)
        except BaseException:
            engine.dispose()
            raise
        return store

    def _sqlite_events(self, busy_timeout: timedelta) -> None:
        @event.listens_for(self._engine, "connect")
        def connect(dbapi: sqlite3.Connection, record: object) -> None:
            # The driver's own transaction handling off: SQLAlchemy's "begin" below says BEGIN.
            dbapi.isolation_level = None
            cursor = dbapi.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout.total_seconds() * 1000)}")
                # Reading the schema first: a file that is not a database fails here.
                cursor.execute("SELECT count(*) FROM sqlite_master").fetchone()
                # WAL (set once the file is known to be ours, see _migrate) with NORMAL survives
                # a killed process (not a power cut mid-commit).
                cursor.execute("PRAGMA synchronous = NORMAL")
            finally:
                cursor.close()

        @event.listens_for(self._engine, "begin")
        def begin(connection: Connection) -> None:
            write = connection.get_execution_options().get(_WRITE, False)
            started = time.monotonic()
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
            waited = time.monotonic() - started
            if waited > _WAIT_NOTED:
                self._waited += waited

    def _migrate(self, path: Path | None) -> None:
        """Check the schema, and bring it to :data:`_schema.REVISION` if it is older.

        A store already at the current revision (every open after the first) is checked with
        one query, without importing Alembic (a third of a second).
        """
        with self._guard(path), self._engine.connect() as connection:
            # Before anything is written: the journal mode below rewrites a SQLite header.
            current = self._check_schema(connection, path)
        if path is not None:
            with self._guard(path):
                raw = self._engine.raw_connection()
                try:
                    cursor = raw.cursor()
                    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                        cursor.execute("PRAGMA journal_mode = WAL").fetchone()
                    cursor.close()
                finally:
                    raw.close()
        if current == s.REVISION:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._guard(path), self._write() as connection:
            # Again inside the write transaction: another process may have migrated meanwhile.
            if self._check_schema(connection, path) != s.REVISION:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

    def _check_schema(self, connection: Connection, path: Path | None) -> str | None:
        """Return the store's revision; refuse a newer schema, or a database of something else."""
        inspector = sa.inspect(connection)
        current = None
        if inspector.has_table(s.VERSION_TABLE):
            found = (
                connection.execute(
                    sa.text(f"SELECT version_num FROM {s.VERSION_TABLE}")  # noqa: S608 - a constant
                )
                .scalars()
                .all()
            )
            current = found[0] if found else None
        if current is not None and current not in s.REVISIONS:
            raise StoreError(
                f"{self.name} was written by a newer ei-usage (schema revision {current}; "
                f"this one knows up to {s.REVISION}): upgrade ei-usage; the store was left as "
                "it is"
            )
        if current is None and path is not None:
            tables = set(inspector.get_table_names()) - {s.VERSION_TABLE}
            if tables:
                raise StoreError(
                    f"{self.name} is a SQLite database but not an ei-usage store (it has "
                    f"tables {', '.join(sorted(tables)[:5])}); it was left as it is"
                )
        return current

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _guard(self, path: Path | None = None) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError, ResponseValidationError) as error:
            is_file = path is not None or self._engine.dialect.name == "sqlite"
            where = Path(self.name) if is_file else None
            raise StoreError(_explain(self.name, error, where)) from error

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on leaving (BEGIN IMMEDIATE on SQLite)."""
        self._check_open()
        with self._engine.connect() as connection:
            connection.execution_options(**{_WRITE: True})
            with connection.begin():
                yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._check_open()
        with self._guard(), self._engine.connect() as connection, connection.begin():
            yield connection

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"store {self.name} is closed")

    def _insert(self, table: sa.Table) -> Any:
        """An INSERT with the dialect's ON CONFLICT (both spell upserts alike)."""
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return str(self._engine.dialect.name)

    @property
    def waited(self) -> timedelta:
        """Time spent waiting for another process's write transaction (SQLite)."""
        return timedelta(seconds=self._waited)

    def close(self) -> None:
        """Close the store's connections (idempotent)."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.name!r})"

    # -- the report path (UsageHistory) ----------------------------------------------------

    def known_compute_time(
        self,
        organization_id: int,
        keys: Sequence[tuple[int, DateRange]],
        *,
        every: str,
        closed_before: datetime,
    ) -> Mapping[tuple[int, DateRange], StoredComputeTime]:
        """Return stored facts for those ``(inner id, period)`` keys that are closed.

        A key is returned when its period ended at or before ``closed_before`` and its numbers
        were fetched at least :attr:`settle` after the period ended (numbers fetched while the
        period was still open are not final). Missing keys: not stored, or not closed.
        """
        wanted = set(keys)
        if not wanted:
            return {}
        t = s.compute_time
        inners = sorted({inner for inner, _ in wanted})
        low = min(period.start for _, period in wanted)
        high = min(max(period.end for _, period in wanted), closed_before)
        found: dict[tuple[int, DateRange], StoredComputeTime] = {}
        query = sa.select(
            t.c.inner_organization_id,
            t.c.period_start,
            t.c.period_end,
            t.c.wire,
            t.c.fetched_at,
        ).where(
            t.c.organization_id == organization_id,
            t.c.inner_organization_id.in_(inners),
            t.c.period_start >= low,
            t.c.period_end <= high,
        )
        with self._read() as connection:
            for inner, start, end, wire, fetched_at in connection.execute(query):
                period = DateRange(start, end)
                key = (inner, period)
                if key not in wanted or fetched_at < end + self.settle:
                    continue
                row = _wire.compute_time_from_wire(
                    _wire.loads(wire),
                    organization_id=organization_id,
                    inner_organization_id=inner,
                    period=period,
                    source=self.name,
                )
                found[key] = StoredComputeTime(row, fetched_at)
        return found

    def save_compute_time(
        self,
        rows: Sequence[ComputeTime],
        *,
        every: str,
        fetched_at: datetime,
        sync_run_id: int | None = None,
    ) -> None:
        """Persist fetched rows (upsert on organization, inner organization, start, end).

        Committed before returning. A row whose stored numbers were final (fetched at least
        :attr:`settle` after its period ended) and now differ is kept with the new numbers, and
        the change is logged (:meth:`changes`).
        """
        if every not in PERIODS:
            raise ValueError(f"every must be one of {', '.join(PERIODS)}; got {every!r}")
        if not rows:
            return
        t = s.compute_time
        values = []
        for row in rows:
            wire = _wire.compute_time_wire(row)
            values.append(
                {
                    "organization_id": row.organization_id,
                    "inner_organization_id": row.inner_organization_id,
                    "period_start": row.period.start,
                    "period_end": row.period.end,
                    "granularity": every,
                    "wire": _wire.dumps(wire),
                    **_wire.numbers(wire),
                    "fetched_at": fetched_at,
                    "sync_run_id": sync_run_id,
                }
            )
        insert = self._insert(t)
        upsert = insert.on_conflict_do_update(
            index_elements=[
                t.c.organization_id,
                t.c.inner_organization_id,
                t.c.period_start,
                t.c.period_end,
            ],
            set_={
                name: insert.excluded[name]
                for name in (
                    "granularity",
                    "wire",
                    "cpu_seconds",
                    "gpu_seconds",
                    "total_minutes",
                    "fetched_at",
                    "sync_run_id",
                )
            },
        )
        with self._guard(), self._write() as connection:
            changes = self._changes_of(connection, values)
            connection.execute(upsert, values)
            if changes:
                connection.execute(sa.insert(s.compute_time_changes), changes)

    def _changes_of(
        self, connection: Connection, values: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Return the change-log rows of ``values`` that change final stored numbers."""
        t = s.compute_time
        by_org: dict[int, list[dict[str, Any]]] = {}
        for value in values:
            by_org.setdefault(value["organization_id"], []).append(value)
        changes = []
        for org, group in by_org.items():
            query = sa.select(
                t.c.inner_organization_id,
                t.c.period_start,
                t.c.period_end,
                t.c.wire,
                t.c.fetched_at,
            ).where(
                t.c.organization_id == org,
                t.c.inner_organization_id.in_(sorted({v["inner_organization_id"] for v in group})),
                t.c.period_start >= min(v["period_start"] for v in group),
                t.c.period_end <= max(v["period_end"] for v in group),
            )
            stored = {
                (inner, start, end): (wire, fetched_at)
                for inner, start, end, wire, fetched_at in connection.execute(query)
            }
            for value in group:
                key = (value["inner_organization_id"], value["period_start"], value["period_end"])
                old = stored.get(key)
                if old is None:
                    continue
                old_wire, old_fetched_at = old
                final = old_fetched_at >= value["period_end"] + self.settle
                if final and _wire.loads(old_wire) != _wire.loads(value["wire"]):
                    changes.append(
                        {
                            "organization_id": org,
                            "inner_organization_id": key[0],
                            "period_start": key[1],
                            "period_end": key[2],
                            "old_wire": old_wire,
                            "new_wire": value["wire"],
                            "old_fetched_at": old_fetched_at,
                            "new_fetched_at": value["fetched_at"],
                            "sync_run_id": value["sync_run_id"],
                        }
                    )
        return changes

    # -- what a sync records -------------------------------------------------------------------

    def begin_sync(
        self,
        organization_id: int,
        *,
        started_at: datetime,
        every: Every = "month",
        period: DateRange | None = None,
    ) -> int:
        """Record the start of a sync and return its run id."""
        with self._guard(), self._write() as connection:
            result = connection.execute(
                sa.insert(s.sync_runs).values(
                    organization_id=organization_id,
                    started_at=started_at,
                    granularity=every,
                    period_start=None if period is None else period.start,
                    period_end=None if period is None else period.end,
                    requests=0,
                    throttles=0,
                    errors=0,
                    fetched=0,
                    reused=0,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def finish_sync(
        self,
        run_id: int,
        *,
        requests: int,
        throttles: int,
        errors: int,
        stop_reason: str | None,
        fetched: int = 0,
        reused: int = 0,
        finished_at: datetime | None = None,
    ) -> None:
        """Record the end of a sync (its counts, and why it stopped early, if it did)."""
        with self._guard(), self._write() as connection:
            connection.execute(
                sa.update(s.sync_runs)
                .where(s.sync_runs.c.id == run_id)
                .values(
                    finished_at=finished_at or datetime.now(UTC),
                    requests=requests,
                    throttles=throttles,
                    errors=errors,
                    fetched=fetched,
                    reused=reused,
                    stop_reason=stop_reason,
                )
            )

    def unfinished_syncs(self, organization_id: int, *, since: datetime) -> list[SyncRun]:
        """Return the runs started after ``since`` that have not finished (running, or killed)."""
        t = s.sync_runs
        with self._read() as connection:
            rows = connection.execute(
                sa.select(t)
                .where(
                    t.c.organization_id == organization_id,
                    t.c.finished_at.is_(None),
                    t.c.started_at >= since,
                )
                .order_by(t.c.id)
            ).all()
        return [_sync_run(row) for row in rows]

    def record_listing(
        self,
        organization_id: int,
        organizations: Iterable[InnerOrganization],
        seen_at: datetime,
    ) -> None:
        """Record the inner organizations a listing had (and their limits when they changed)."""
        listed = list(organizations)
        if not listed:
            return
        t = s.organizations
        values = [
            {
                "organization_id": organization_id,
                "inner_organization_id": o.id,
                "name": o.name,
                "deleted": o.deleted,
                "created": o.created,
                "billable": o.billable,
                "first_seen": seen_at,
                "last_seen": seen_at,
            }
            for o in listed
        ]
        insert = self._insert(t)
        upsert = insert.on_conflict_do_update(
            index_elements=[t.c.organization_id, t.c.inner_organization_id],
            set_={
                name: insert.excluded[name]
                for name in ("name", "deleted", "created", "billable", "last_seen")
            },
        )
        with self._guard(), self._write() as connection:
            connection.execute(upsert, values)
            self._record_entitlements(
                connection, organization_id, [(o.id, o.entitlements) for o in listed], seen_at
            )

    def _record_entitlements(
        self,
        connection: Connection,
        organization_id: int,
        limits: Sequence[tuple[int, Entitlements]],
        seen_at: datetime,
    ) -> None:
        latest = _latest_entitlements(connection, organization_id)
        changed = [
            _entitlement_values(organization_id, inner, entitlements, seen_at)
            for inner, entitlements in limits
            if latest.get(inner) != entitlements
        ]
        if changed:
            connection.execute(sa.insert(s.entitlements), changed)

    def record_contract(
        self,
        usage: InnerOrganizationUsage,
        fetched_at: datetime,
        *,
        sync_run_id: int | None = None,
    ) -> None:
        """Record a contract-usage snapshot (one per organization per sync run)."""
        self.record_contracts([usage], fetched_at, sync_run_id=sync_run_id)

    def record_contracts(
        self,
        usages: Sequence[InnerOrganizationUsage],
        fetched_at: datetime,
        *,
        sync_run_id: int | None = None,
    ) -> None:
        """Record contract-usage snapshots in one transaction (see :meth:`record_contract`)."""
        if not usages:
            return
        t = s.contract_usage
        values = []
        for usage in usages:
            wire = _wire.usage_wire(usage)
            values.append(
                {
                    "organization_id": usage.organization_id,
                    "inner_organization_id": usage.inner_organization_id,
                    "fetched_at": fetched_at,
                    "sync_run_id": sync_run_id,
                    "wire": _wire.dumps(wire),
                    **_wire.numbers(wire),
                    "storage_bytes": usage.storage_bytes,
                    "contract_since": usage.contract_since,
                    "billable": usage.billable,
                }
            )
        insert = self._insert(t)
        if sync_run_id is not None:
            insert = insert.on_conflict_do_update(
                index_elements=[t.c.sync_run_id, t.c.organization_id, t.c.inner_organization_id],
                set_={
                    name: insert.excluded[name]
                    for name in (
                        "fetched_at",
                        "wire",
                        "cpu_seconds",
                        "gpu_seconds",
                        "total_minutes",
                        "storage_bytes",
                        "contract_since",
                        "billable",
                    )
                },
            )
        by_org: dict[int, list[tuple[int, Entitlements]]] = {}
        for usage in usages:
            by_org.setdefault(usage.organization_id, []).append(
                (usage.inner_organization_id, usage.entitlements)
            )
        with self._guard(), self._write() as connection:
            connection.execute(insert, values)
            for org, limits in by_org.items():
                self._record_entitlements(connection, org, limits, fetched_at)

    # -- reads ---------------------------------------------------------------------------------

    def compute_time(
        self,
        organization_id: int,
        inner_ids: Iterable[int] | None = None,
        *,
        every: Every = "month",
    ) -> dict[int, list[ComputeTime]]:
        """Return stored compute time of whole calendar ``every`` periods, per inner id.

        Rows are in time order and carry the organization's stored name and deleted mark; the
        running period's row is its latest fetch. Built for bulk reads from the store's number
        columns (the same numbers as the wire text, with the same unit rules), so their
        ``wire`` is None; :meth:`known_compute_time` rebuilds from the wire text itself.
        """
        t = s.compute_time
        # The same few periods recur in every organization: read them as stored (text on
        # SQLite) and turn each into a DateRange once.
        raw = sa.String if self.dialect == "sqlite" else s.UTCDateTime
        start_of = sa.type_coerce(t.c.period_start, raw)
        end_of = sa.type_coerce(t.c.period_end, raw)
        query = (
            sa.select(
                t.c.inner_organization_id,
                start_of,
                end_of,
                t.c.cpu_seconds,
                t.c.gpu_seconds,
                t.c.total_minutes,
            )
            .where(t.c.organization_id == organization_id, t.c.granularity == every)
            .order_by(t.c.inner_organization_id, t.c.period_start)
        )
        if inner_ids is not None:
            query = query.where(t.c.inner_organization_id.in_(sorted(set(inner_ids))))
        result: dict[int, list[ComputeTime]] = {}
        periods: dict[tuple[datetime, datetime], DateRange | None] = {}
        with self._read() as connection:
            names = _names(connection, organization_id)
            for inner, start, end, cpu, gpu, total in connection.execute(query):
                period = periods.get((start, end), _UNSEEN)
                if period is _UNSEEN:
                    whole = DateRange(_instant(start), _instant(end))
                    # A clipped piece of some report is not a calendar period: left out.
                    period = periods[(start, end)] = whole if _whole(whole, every) else None
                if period is None:
                    continue
                name, deleted = names.get(inner, (None, None))
                result.setdefault(inner, []).append(
                    ComputeTime(
                        organization_id=organization_id,
                        inner_organization_id=inner,
                        period=period,
                        cpu=None if cpu is None else seconds(_exact(cpu)),
                        gpu=None if gpu is None else seconds(_exact(gpu)),
                        total=None if total is None else minutes(_exact(total)),
                        inner_organization_name=name,
                        inner_organization_deleted=deleted,
                    )
                )
        return result

    def monthly_compute_time(
        self, organization_id: int, inner_ids: Iterable[int] | None = None
    ) -> dict[int, list[ComputeTime]]:
        """Return stored monthly compute time per inner id (closed and latest open months)."""
        return self.compute_time(organization_id, inner_ids, every="month")

    def contract_snapshots(
        self,
        organization_id: int,
        inner_ids: Iterable[int] | None = None,
        *,
        since: datetime | None = None,
    ) -> dict[int, list[tuple[datetime, InnerOrganizationUsage]]]:
        """Return the contract-usage snapshots per inner id, in time order.

        Each carries the entitlements as they were when it was fetched (the store's entitlement
        history, recorded from the same answers). ``since``: only snapshots fetched from then
        on (a forecast needs the running contract's, not years of them).
        """
        t = s.contract_usage
        query = (
            sa.select(
                t.c.inner_organization_id,
                t.c.fetched_at,
                t.c.cpu_seconds,
                t.c.gpu_seconds,
                t.c.total_minutes,
                t.c.storage_bytes,
                t.c.contract_since,
                t.c.billable,
            )
            .where(t.c.organization_id == organization_id)
            .order_by(t.c.inner_organization_id, t.c.fetched_at, t.c.id)
        )
        if inner_ids is not None:
            query = query.where(t.c.inner_organization_id.in_(sorted(set(inner_ids))))
        if since is not None:
            query = query.where(t.c.fetched_at >= since)
        with self._read() as connection:
            return self._snapshots(connection, organization_id, connection.execute(query))

    def _snapshots(
        self, connection: Connection, organization_id: int, rows: Iterable[Any]
    ) -> dict[int, list[tuple[datetime, InnerOrganizationUsage]]]:
        history = _entitlement_history(connection, organization_id)
        names = _names(connection, organization_id)
        result: dict[int, list[tuple[datetime, InnerOrganizationUsage]]] = {}
        for inner, fetched_at, cpu, gpu, total, storage, since, billable in rows:
            name, deleted = names.get(inner, (None, None))
            usage = InnerOrganizationUsage(
                organization_id=organization_id,
                inner_organization_id=inner,
                cpu=None if cpu is None else seconds(cpu),
                gpu=None if gpu is None else seconds(gpu),
                total=None if total is None else minutes(total),
                contract_since=since,
                storage_bytes=storage,
                billable=billable,
                entitlements=_as_of(history.get(inner, []), fetched_at),
                inner_organization_name=name,
                inner_organization_deleted=deleted,
            )
            result.setdefault(inner, []).append((fetched_at, usage))
        return result

    def latest_contracts(self, organization_id: int) -> dict[int, InnerOrganizationUsage]:
        """Return each inner organization's latest contract-usage snapshot."""
        t = s.contract_usage
        latest = (
            sa.select(
                t.c.inner_organization_id.label("inner"),
                sa.func.max(t.c.fetched_at).label("at"),
            )
            .where(t.c.organization_id == organization_id)
            .group_by(t.c.inner_organization_id)
            .subquery()
        )
        query = (
            sa.select(
                t.c.inner_organization_id,
                t.c.fetched_at,
                t.c.cpu_seconds,
                t.c.gpu_seconds,
                t.c.total_minutes,
                t.c.storage_bytes,
                t.c.contract_since,
                t.c.billable,
            )
            .join(
                latest,
                sa.and_(t.c.inner_organization_id == latest.c.inner, t.c.fetched_at == latest.c.at),
            )
            .where(t.c.organization_id == organization_id)
            .order_by(t.c.inner_organization_id, t.c.id)
        )
        with self._read() as connection:
            snapshots = self._snapshots(connection, organization_id, connection.execute(query))
        return {inner: found[-1][1] for inner, found in snapshots.items()}

    def organizations(self, organization_id: int) -> list[StoredOrganization]:
        """Return the inner organizations ever listed, by id, with first and last seen."""
        t = s.organizations
        with self._read() as connection:
            latest = _latest_entitlements(connection, organization_id)
            rows = connection.execute(
                sa.select(t)
                .where(t.c.organization_id == organization_id)
                .order_by(t.c.inner_organization_id)
            ).all()
        return [
            StoredOrganization(
                organization_id=organization_id,
                id=row.inner_organization_id,
                name=row.name,
                deleted=row.deleted,
                created=row.created,
                billable=row.billable,
                entitlements=latest.get(row.inner_organization_id, Entitlements()),
                first_seen=row.first_seen,
                last_seen=row.last_seen,
            )
            for row in rows
        ]

    def entitlement_history(
        self, organization_id: int
    ) -> dict[int, list[tuple[datetime, Entitlements]]]:
        """Return each inner organization's limits as they changed, in time order."""
        with self._read() as connection:
            return _entitlement_history(connection, organization_id)

    def sync_runs(self, organization_id: int) -> list[SyncRun]:
        """Return the sync runs of a white label, oldest first."""
        t = s.sync_runs
        with self._read() as connection:
            rows = connection.execute(
                sa.select(t).where(t.c.organization_id == organization_id).order_by(t.c.id)
            ).all()
        return [_sync_run(row) for row in rows]

    def changes(self, organization_id: int) -> list[ComputeTimeChange]:
        """Return the logged changes of closed periods' numbers, oldest first."""
        t = s.compute_time_changes
        with self._read() as connection:
            rows = connection.execute(
                sa.select(t).where(t.c.organization_id == organization_id).order_by(t.c.id)
            ).all()
        result = []
        for row in rows:
            period = DateRange(row.period_start, row.period_end)

            def rebuild(text: str, inner: int = row.inner_organization_id) -> ComputeTime:
                return _wire.compute_time_from_wire(
                    _wire.loads(text),
                    organization_id=organization_id,
                    inner_organization_id=inner,
                    period=period,  # noqa: B023 - used at once
                    source=self.name,
                )

            result.append(
                ComputeTimeChange(
                    old=rebuild(row.old_wire),
                    new=rebuild(row.new_wire),
                    old_fetched_at=row.old_fetched_at,
                    new_fetched_at=row.new_fetched_at,
                )
            )
        return result

    def counts(self) -> dict[str, int]:
        """Return the number of rows of each table (for tests and ``sync``'s summary)."""
        tables = {
            "organizations": s.organizations,
            "entitlements": s.entitlements,
            "compute_time": s.compute_time,
            "compute_time_changes": s.compute_time_changes,
            "contract_usage": s.contract_usage,
            "sync_runs": s.sync_runs,
        }
        with self._read() as connection:
            return {
                name: int(
                    connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                )
                for name, t in tables.items()
            }


# -- helpers ---------------------------------------------------------------------------------


_UNSEEN: Any = object()


def _exact(number: float) -> float:
    """A whole float as an int: the unit rules convert ints without rounding, and faster."""
    return int(number) if number.is_integer() else number


def _instant(value: datetime | str) -> datetime:
    """A stored instant: SQLite's text (naive UTC), or a datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _whole(period: DateRange, every: Every) -> bool:
    """Whether ``period`` is exactly one calendar ``every`` (not a clipped piece)."""
    from ei_usage._dates import _floor, _next  # the one calendar rule

    start = _floor(period.start, every)
    return start == period.start and _next(start, every) == period.end


def _sync_run(row: Any) -> SyncRun:
    period = (
        None
        if row.period_start is None or row.period_end is None
        else DateRange(row.period_start, row.period_end)
    )
    return SyncRun(
        id=row.id,
        organization_id=row.organization_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        every=row.granularity,
        period=period,
        requests=row.requests,
        throttles=row.throttles,
        errors=row.errors,
        fetched=row.fetched,
        reused=row.reused,
        stop_reason=row.stop_reason,
    )


def _names(connection: Connection, organization_id: int) -> dict[int, tuple[str, bool]]:
    t = s.organizations
    return {
        inner: (name, deleted)
        for inner, name, deleted in connection.execute(
            sa.select(t.c.inner_organization_id, t.c.name, t.c.deleted).where(
                t.c.organization_id == organization_id
            )
        )
    }


def _named(
    usage: InnerOrganizationUsage, name: str | None, deleted: bool | None
) -> InnerOrganizationUsage:
    if name is None:
        return usage
    return attrs.evolve(usage, inner_organization_name=name, inner_organization_deleted=deleted)


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def _entitlement_values(
    organization_id: int, inner: int, entitlements: Entitlements, seen_at: datetime
) -> dict[str, Any]:
    def secs(value: timedelta | None) -> float | None:
        return None if value is None else value.total_seconds()

    return {
        "organization_id": organization_id,
        "inner_organization_id": inner,
        "seen_at": seen_at,
        "compute_time_per_year_seconds": secs(entitlements.compute_time_per_year),
        "gpu_compute_time_per_year_seconds": secs(entitlements.gpu_compute_time_per_year),
        "storage_bytes": entitlements.storage_bytes,
        "projects": entitlements.projects,
        "users": entitlements.users,
    }


def _entitlement_history(
    connection: Connection, organization_id: int
) -> dict[int, list[tuple[datetime, Entitlements]]]:
    t = s.entitlements
    history: dict[int, list[tuple[datetime, Entitlements]]] = {}
    for row in connection.execute(
        sa.select(t).where(t.c.organization_id == organization_id).order_by(t.c.seen_at, t.c.id)
    ):
        history.setdefault(row.inner_organization_id, []).append(
            (
                row.seen_at,
                Entitlements(
                    compute_time_per_year=_seconds(row.compute_time_per_year_seconds),
                    gpu_compute_time_per_year=_seconds(row.gpu_compute_time_per_year_seconds),
                    storage_bytes=row.storage_bytes,
                    projects=row.projects,
                    users=row.users,
                ),
            )
        )
    return history


def _latest_entitlements(connection: Connection, organization_id: int) -> dict[int, Entitlements]:
    return {
        inner: changes[-1][1]
        for inner, changes in _entitlement_history(connection, organization_id).items()
    }


def _as_of(changes: Sequence[tuple[datetime, Entitlements]], instant: datetime) -> Entitlements:
    current = Entitlements()
    for seen_at, entitlements in changes:
        if seen_at > instant:
            break
        current = entitlements
    return current


if TYPE_CHECKING:
    from ei_usage._history import UsageHistory
    from ei_usage.cli._forecast import StoreReader
    from ei_usage.exporter._sink import Sink

    def _is_usage_history(store: Store) -> tuple[UsageHistory, StoreReader, Sink]:
        """A Store is what a report, a forecast and the exporter use (checked by mypy)."""
        return store, store, store
