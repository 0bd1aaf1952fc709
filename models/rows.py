"""Rows read as values: attribute access like a model instance, without Tortoise's per-row instantiation.

Building a model instance costs about 10 µs a row (STACK.md: reading rows as tuples is four times faster);
on a page of billings with their lines and audit rows that is hundreds of rows per request. A `Row` holds the
values `QuerySet.values()` returns (converted by each field: enums, Decimals, JSON, datetimes) under the
model's field names, and names its model; it is for reading only (no save, no relations).
"""

from typing import Any, ClassVar

from tortoise.models import Model
from tortoise.queryset import QuerySet


class Row:
    """One row of `model` as read: its fields as attributes, `pk` its id."""

    model: ClassVar[type[Model]]

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values

    @property
    def pk(self) -> Any:
        return self.__dict__["id"]


_CLASSES: dict[type[Model], type[Row]] = {}


def row_class(model: type[Model]) -> type[Row]:
    if model not in _CLASSES:
        _CLASSES[model] = type(f"{model.__name__}Row", (Row,), {"model": model})
    return _CLASSES[model]


async def values_rows(query: QuerySet) -> list[Row]:
    """The rows of `query` as `Row`s of its model, in its order."""
    kind = row_class(query.model)
    return [kind(values) for values in await query.values()]
