"""Field helpers shared by every model: money is NUMERIC(14,2), never float."""

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, TypeVar, cast, overload

from tortoise import fields

E = TypeVar("E", bound=Enum)


@overload
def money(*, null: Literal[False] = False, **kwargs: Any) -> fields.DecimalField[Decimal]: ...


@overload
def money(*, null: Literal[True], **kwargs: Any) -> fields.DecimalField[Decimal | None]: ...


def money(**kwargs: Any) -> fields.DecimalField[Decimal] | fields.DecimalField[Decimal | None]:
    """A money column: NUMERIC(14,2), quantized half-up by the domain before it is written."""
    return fields.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def nullable_enum(enum_type: type[E], **kwargs: Any) -> fields.Field[E | None]:
    """`CharEnumField(enum_type, null=True)`, typed as the optional value it reads as (Tortoise types every
    `CharEnumField` as non-null)."""
    return cast("fields.Field[E | None]", fields.CharEnumField(enum_type, null=True, **kwargs))


def nullable_text(**kwargs: Any) -> fields.Field[str | None]:
    """`TextField(null=True)`, typed as the optional text it reads as (Tortoise types every `TextField` as
    non-null)."""
    return cast("fields.Field[str | None]", fields.TextField(null=True, **kwargs))


def created_at() -> fields.DatetimeField[datetime]:
    return fields.DatetimeField(auto_now_add=True)


def updated_at() -> fields.DatetimeField[datetime]:
    return fields.DatetimeField(auto_now=True)
