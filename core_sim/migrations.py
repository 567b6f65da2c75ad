"""Migrations of the bank's database from older schema versions, one step a version.

:func:`core_sim.schema.connect` runs the steps from the database's version
to :data:`~core_sim.schema.SCHEMA_VERSION` in one transaction, with foreign
keys checked once the copy is complete. Tables whose columns or CHECKs
change are rebuilt (:func:`_rebuild`), as SQLite's documentation prescribes;
data is kept row for row.
"""

from __future__ import annotations

import sqlite3

from core_sim.schema import DDL, DDL_BATCHES, DDL_CONTROLS, DDL_SCENARIO, statements


def _migrate_2_to_3(conn: sqlite3.Connection) -> None:
    """Version 2 to 3: the scenario rules' tables (new tables only; no data moves)."""
    for statement in statements(DDL_SCENARIO):
        conn.execute(statement)


def _migrate_3_to_4(conn: sqlite3.Connection) -> None:
    """Version 3 to 4: enterprise controls.

    ``enterprises`` gains the monthly and corp-to-personal limits,
    ``instructions`` and ``batches`` the states of authorization (wider
    CHECKs): each is rebuilt. Then the controls' own tables are created.
    """
    _rebuild(conn, DDL, ("enterprises", "instructions"))
    _rebuild(conn, DDL_BATCHES, ("batches",))
    for statement in statements(DDL_CONTROLS):
        conn.execute(statement)
    _check_references(conn)


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 to 2: personal accounts, batch entries, agreements and batches.

    ``accounts`` and ``entries`` gain columns and wider CHECKs, which SQLite
    cannot alter: each is rebuilt (:func:`_rebuild`).
    """
    _rebuild(conn, DDL, ("accounts", "entries"))
    for statement in statements(DDL_BATCHES):
        conn.execute(statement)
    _check_references(conn)


def _rebuild(conn: sqlite3.Connection, ddl: str, tables: tuple[str, ...]) -> None:
    """Rebuild ``tables`` from ``ddl``, row for row, as SQLite's documentation prescribes.

    Create the new table under another name, copy the rows (the columns the
    old one has; new columns take their defaults), drop the old, rename, and
    create its indexes again.
    """
    parts = statements(ddl)
    for table in tables:
        create = next(s for s in parts if s.startswith(f"CREATE TABLE {table} ("))
        indexes = [s for s in parts
                   if s.startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))
                   and f" ON {table} (" in s]
        columns = ", ".join(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))
        conn.execute(create.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_new (", 1))
        conn.execute(f"INSERT INTO {table}_new ({columns}) SELECT {columns} FROM {table}")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
        for index in indexes:
            conn.execute(index)


def _check_references(conn: sqlite3.Connection) -> None:
    problems = conn.execute("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise ValueError(f"schema migration left broken references: {problems[:5]}")


#: The step from version n to n + 1 is STEPS[n - 1].
STEPS = (_migrate_1_to_2, _migrate_2_to_3, _migrate_3_to_4)
