"""Money arithmetic: Decimal only, two places, half-up at the line (SPEC §2)."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # NUMERIC(14,2)


def to_money(value: Decimal | int | str) -> Decimal:
    """Round a value to cents, half-up."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def is_money(value: Decimal) -> bool:
    """True when `value` is finite, fits NUMERIC(14,2) and has at most two decimal places."""
    try:
        return value.is_finite() and abs(value) <= MAX_AMOUNT and value == value.quantize(CENT)
    except InvalidOperation:
        return False
