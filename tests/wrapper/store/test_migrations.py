"""Every migration, from every earlier revision, on both dialects, ends at the models' schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ei_usage.store import Store, StoreError, _schema, _store


def config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_store._MIGRATIONS))
    return cfg


REVISIONS = [
    r.revision for r in reversed(list(ScriptDirectory.from_config(config()).walk_revisions()))
]


def engine_of(url: str) -> sa.Engine:
    target, _, _ = _store._target(url)
    return sa.create_engine(target)


def upgrade(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as connection:
        cfg = config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(
            connection, opts={"version_table": _schema.VERSION_TABLE}
        ).get_current_revision()


def test_revision_one_is_the_first_and_the_store_knows_every_revision() -> None:
    assert REVISIONS[0] == "0001"
    # The store checks an open store's revision without Alembic, against this list.
    assert list(_schema.REVISIONS) == REVISIONS


@pytest.mark.parametrize("start", [None, *REVISIONS])
def test_upgrading_from_every_revision_reaches_the_models(
    store_url: str, start: str | None
) -> None:
    engine = engine_of(store_url)
    try:
        if start is not None:
            upgrade(engine, start)
            assert current(engine) == start
        # Opening the store migrates the rest of the way.
        Store.open(store_url).close()
        assert current(engine) == REVISIONS[-1]
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": _schema.VERSION_TABLE}
            )
            assert compare_metadata(context, _schema.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_nothing_and_back(store_url: str) -> None:
    Store.open(store_url).close()
    engine = engine_of(store_url)
    try:
        with engine.begin() as connection:
            cfg = config()
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "base")
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {_schema.VERSION_TABLE}
        Store.open(store_url).close()
        assert current(engine) == REVISIONS[-1]
    finally:
        engine.dispose()


def test_a_store_written_by_a_newer_schema_is_refused_and_left_alone(store_url: str) -> None:
    Store.open(store_url).close()
    engine = engine_of(store_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"UPDATE {_schema.VERSION_TABLE} SET version_num = '0099'"))
        before = Path(store_url).read_bytes() if "://" not in store_url else None
        with pytest.raises(StoreError) as raised:
            Store.open(store_url)
        message = str(raised.value)
        assert "newer ei-usage" in message
        assert "0099" in message
        assert (
            ("history.sqlite3" in message) if before is not None else ("postgresql://" in message)
        )
        assert current(engine) == "0099"
        if before is not None:
            assert Path(store_url).read_bytes() == before
    finally:
        engine.dispose()
