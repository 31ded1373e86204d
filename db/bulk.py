"""Insert many rows into a table the build created with sqlite-utils, in one executemany.

sqlite-utils' insert_all inspects every value of every row (to turn lists into JSON and pick column
types), which costs more than SQLite's own work at 10,000 payers. The build's tables are declared
up front and its rows hold only text, numbers and None, so they go to SQLite as they are; a value
of another type is refused by sqlite3 itself (ProgrammingError), never stored as something else.
"""
from __future__ import annotations

from typing import Iterable

import sqlite_utils


def insert_rows(db: sqlite_utils.Database, table: str, rows: Iterable, columns: list[str] | None = None) -> int:
    """Insert `rows` and return how many: dicts with the same keys (the first row's keys name the
    columns), or tuples in the order of `columns`."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    if columns is None:
        columns = list(rows[0])
        rows = [tuple(row[c] for c in columns) for row in rows]
    sql = (f"insert into [{table}] ({', '.join(f'[{c}]' for c in columns)}) "
           f"values ({', '.join('?' for _ in columns)})")
    db.conn.executemany(sql, rows)
    return len(rows)
