"""Keyset pagination for Relay connections: stable under inserts, no OFFSET scans, `totalCount` included.

A cursor encodes the sort-key values of its row (always ending with the id, so keys are unique).
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError
from tortoise import fields
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from billrun.settings import get_settings

DEFAULT_PAGE_SIZE = 50


class BadRequest(GraphQLError):
    """A malformed request (bad cursor, page too large): shown to the client as it is, never masked."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_REQUEST"})


@dataclass
class Page:
    rows: list[Any]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total_count: int


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, date | datetime) else str(v) if isinstance(v, Decimal) else v
             for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode()


def _decode(cursor: str, model_fields: dict, keys: list[str]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return [_parse(model_fields[k], v) for k, v in zip(keys, raw, strict=True)]
    except (ValueError, TypeError, ArithmeticError, binascii.Error, json.JSONDecodeError) as exc:
        raise BadRequest(f"Invalid cursor {cursor!r}: pass a cursor from this connection's edges.") from exc


def _parse(field: fields.Field, value: Any) -> Any:
    """A sort-key value of a cursor as its column holds it; ValueError for anything that column cannot hold (a
    cursor is client input: an id out of range or a string too long must not reach the database)."""
    if value is None:
        return None
    if isinstance(field, fields.DatetimeField | fields.DateField | fields.DecimalField | fields.CharField):
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError("not a string")
    if isinstance(field, fields.DatetimeField):
        return datetime.fromisoformat(value)
    if isinstance(field, fields.DateField):
        return date.fromisoformat(value)
    if isinstance(field, fields.DecimalField):
        if not (number := Decimal(value)).is_finite():
            raise ValueError("not a number")
        return number
    if isinstance(field, fields.IntField):
        low, high = field.constraints["ge"], field.constraints["le"]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError("not an id")
    if isinstance(field, fields.CharField) and len(value) > field.max_length:
        raise ValueError("too long")
    return value


def _beyond(keys: list[str], descending: list[bool], values: list[Any], forward: bool) -> Q:
    """Rows strictly after (forward) or before the row with these key values, in the given order."""
    condition = Q()
    for i in reversed(range(len(keys))):
        op = "gt" if forward != descending[i] else "lt"  # order keys are never NULL
        step = Q(**{f"{keys[i]}__{op}": values[i]})
        if i == len(keys) - 1:
            condition = step
        else:
            condition = step | (Q(**{keys[i]: values[i]}) & condition)
    return condition


async def paginate(query: QuerySet, order: list[str], *, first: int | None, after: str | None,
                   last: int | None, before: str | None) -> Page:
    """One page of `query` ordered by `order` (Tortoise notation, "-field" descending; id is appended)."""
    limit = get_settings().max_page_size
    if first is not None and last is not None:
        raise BadRequest("Pass either `first` or `last`, not both.")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= limit:
            raise BadRequest(f"`{name}` must be between 0 and {limit}.")
    keys = [o.lstrip("-") for o in order]
    descending = [o.startswith("-") for o in order]
    if "id" not in keys:
        keys.append("id")
        descending.append(descending[0] if descending else False)
    model_fields = query.model._meta.fields_map
    total = await query.count()

    backward = last is not None and first is None
    size = first if first is not None else (last if last is not None else DEFAULT_PAGE_SIZE)
    page = query
    if after:
        page = page.filter(_beyond(keys, descending, _decode(after, model_fields, keys), True))
    if before:
        page = page.filter(_beyond(keys, descending, _decode(before, model_fields, keys), False))
    direction = [("-" if d != backward else "") + k for k, d in zip(keys, descending, strict=True)]
    rows = list(await page.order_by(*direction).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
    cursors = [_encode([getattr(r, k) for k in keys]) for r in rows]
    return Page(rows=rows, cursors=cursors, total_count=total,
                has_next=more if not backward else before is not None,
                has_previous=more if backward else after is not None)
