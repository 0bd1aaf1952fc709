"""Set-based writes for batch work, one function per need, each right for its dialect.

PostgreSQL: ids drawn from the table's sequence in one query, rows written with COPY, pairs updated with
`unnest`. SQLite (the embedded default, small data, one writer): ids after the current maximum and
`executemany`. Call them inside `in_transaction()` and pass its connection.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


async def allocate_ids(conn: BaseDBAsyncClient, table: str, count: int) -> list[int]:
    """`count` fresh primary keys for `table`, reserved so concurrent writers never collide."""
    if count == 0:
        return []
    if is_postgres(conn):
        _, rows = await conn.execute_query(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id FROM generate_series(1, $1)", [count])
        return [row["id"] for row in rows]
    _, rows = await conn.execute_query(f'SELECT COALESCE(MAX(id), 0) AS top FROM "{table}"')
    top = rows[0]["top"]
    return list(range(top + 1, top + 1 + count))


async def insert_rows(conn: BaseDBAsyncClient, table: str, columns: Sequence[str],
                      rows: Sequence[Sequence[Any]]) -> None:
    """Write many rows at once (COPY on PostgreSQL)."""
    if not rows:
        return
    if is_postgres(conn):
        # Inline rather than a call per cell: this runs for every value a batch writes.
        records = [[orjson.dumps(v).decode() if isinstance(v, _JSON_TYPES) else v for v in row] for row in rows]
        async with conn.acquire_connection() as raw:
            await raw.copy_records_to_table(table, records=records, columns=list(columns))
        return
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    await conn.execute_many(f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})',
                            [[_sqlite(v) for v in row] for row in rows])


_JSON_TYPES = (dict, list)


def _json(value: Any) -> Any:
    """JSON columns take text (asyncpg has no codec for them under Tortoise)."""
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


def _sqlite(value: Any) -> Any:
    """SQLite keeps decimals as text (Tortoise reads them back as Decimal)."""
    return str(value) if isinstance(value, Decimal) else _json(value)


async def set_where_null(conn: BaseDBAsyncClient, table: str, column: str, pairs: Sequence[tuple[int, int]]) -> int:
    """For each (id, value): set `column` = value where it is still NULL. Returns how many rows changed, so a
    caller can tell when another writer got there first."""
    if not pairs:
        return 0
    if is_postgres(conn):
        ids, values = zip(*pairs, strict=True)
        count, _ = await conn.execute_query(
            f'UPDATE "{table}" SET "{column}" = u.v FROM unnest($1::int[], $2::int[]) AS u(id, v) '
            f'WHERE "{table}".id = u.id AND "{table}"."{column}" IS NULL', [list(ids), list(values)])
        return count
    changed = 0
    for row_id, value in pairs:
        count, _ = await conn.execute_query(
            f'UPDATE "{table}" SET "{column}" = ? WHERE id = ? AND "{column}" IS NULL', [value, row_id])
        changed += count
    return changed


async def money_sums(query: QuerySet[Any], key: str, *columns: str) -> dict[Any, tuple[Any, ...]]:
    """Per value of `key`: (row count, exact sum of each money column). PostgreSQL sums in SQL (exact NUMERIC);
    SQLite sums decimals as floats, so there the rows are summed in Python (the embedded default's data is
    small). Missing groups are simply absent."""
    if is_postgres(connections.get("default")):
        sums = {f"sum_{c}": Sum(c) for c in columns}
        rows = await query.group_by(key).annotate(n=Count("id"), **sums).values_list(key, "n", *sums)
        return {group: (n, *(Decimal("0.00") if v is None else Decimal(v) for v in values))
                for group, n, *values in rows}
    totals: dict[Any, list[Any]] = {}  # [count, *sums]
    for group, *values in await query.values_list(key, *columns):
        entry = totals.setdefault(group, [0] + [Decimal("0.00")] * len(columns))
        entry[0] += 1
        for i, value in enumerate(values, start=1):
            entry[i] += value
    return {group: tuple(entry) for group, entry in totals.items()}
