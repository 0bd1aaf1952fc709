"""Money arithmetic: Decimal only, rounded half-up at the line to the currency's minor unit.

Every money function takes the currency, so a yen amount never gets silent cents: USD rounds to 0.01, JPY to 1.
A total is the sum of its rounded lines, so totals need no rounding of their own.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from domain.currencies import decimals_text, is_billable, minor_unit
from domain.errors import ErrorCode, Problem

MAX_AMOUNT = Decimal("999999999999.99")  # NUMERIC(14,2)


def round_half_up(value: Decimal | int | str, places: int) -> Decimal:
    """`value` rounded half-up to `places` decimals (money and percentages alike)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_money(value: Decimal | int | str, currency: str) -> Decimal:
    """Round a value half-up to the currency's minor unit (USD 12.345 → 12.35, JPY 1234.5 → 1235)."""
    return round_half_up(value, minor_unit(currency))


def is_money(value: Decimal, currency: str) -> bool:
    """True when `value` is finite, fits NUMERIC(14,2) and has no more decimals than the currency's minor unit."""
    try:
        step = Decimal(1).scaleb(-minor_unit(currency))
        return value.is_finite() and abs(value) <= MAX_AMOUNT and value == value.quantize(step)
    except InvalidOperation:
        return False


def money_problems(value: Decimal | None, currency: str, field: str, *, allow_zero: bool = True,
                   allow_negative: bool = True) -> list[Problem]:
    """Why `value` is not an acceptable amount of `currency` for `field` (none when it is, or when it is None).

    The message names the field and the currency's decimals: "periodicPrice must be a non-negative JPY amount:
    JPY amounts have no decimals, and at most 12 digits before the point."
    """
    if value is None:
        return []
    if not is_billable(currency):
        return [Problem(ErrorCode.INVALID_CURRENCY, f"The account's currency {currency} cannot be billed: change "
                        "the account's currency first.", field)]
    if not is_money(value, currency) or (not allow_zero and value == 0) or (not allow_negative and value < 0):
        sign = "" if allow_negative else "non-negative " if allow_zero else "positive "
        return [Problem(ErrorCode.INVALID_INPUT, f"{field} must be a {sign}{currency} amount: "
                        f"{decimals_text(currency)}, and at most 12 digits before the point.", field)]
    return []
