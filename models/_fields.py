"""Field helpers shared by every model: money is NUMERIC(14,2), never float."""

from tortoise import fields


def money(**kwargs) -> fields.DecimalField:
    """A money column: NUMERIC(14,2), quantized half-up by the domain before it is written."""
    return fields.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def created_at() -> fields.DatetimeField:
    return fields.DatetimeField(auto_now_add=True)


def updated_at() -> fields.DatetimeField:
    return fields.DatetimeField(auto_now=True)
