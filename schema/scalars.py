"""Strict scalars: what a client may send as a Decimal, a Date or a DateTime, and no string with NUL.

Strawberry's defaults take whatever Python's parsers take: `Decimal("1_000")`, Arabic-Indic digits, `NaN`,
exponents, `date.fromisoformat("20260101")`, week dates, years 1 to 9999 (PostgreSQL stores 0001-01-01 as
-infinity), naive datetimes that later fail comparing with aware ones. These replace them schema-wide
(`StrawberryConfig.scalar_map`); a value they refuse is a GraphQL error that says what is expected, raised
before any resolver runs.
"""

import datetime as dt
import re
from decimal import Decimal
from operator import methodcaller
from typing import Any

from graphql import (
    ASTValidationRule,
    FloatValueNode,
    GraphQLError,
    IntValueNode,
    StringValueNode,
    ValueNode,
)
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition, scalar

DECIMAL_MAX_CHARS = 32  # far beyond any amount, quantity or rate billrun stores (NUMERIC(14, x))
FLOAT_MAX_DIGITS = 15  # a JSON number with more significant digits may not survive as a float: send a string
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2999, 12, 31)

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
                           r"(?P<offset>Z|[+-][0-9]{2}:[0-9]{2})?", re.ASCII)

DECIMAL_RULE = (f"a plain decimal number such as \"12.50\" (a string, or a JSON number of at most {FLOAT_MAX_DIGITS} "
                "digits): ASCII digits with an optional leading minus and decimal point, no exponent, digit "
                f"grouping, spaces, NaN or Infinity, at most {DECIMAL_MAX_CHARS} characters")
DATE_RULE = f"an ISO date YYYY-MM-DD from {FIRST_DATE} to {LAST_DATE}"
DATETIME_RULE = (f"an ISO date-time YYYY-MM-DDTHH:MM[:SS[.ffffff]] with a UTC offset (Z or ±HH:MM), in the years "
                 f"{FIRST_DATE.year} to {LAST_DATE.year}")


class InputValueError(StrawberryInputCoercionError):
    """A scalar value a client sent that billrun does not accept; the message says what is expected."""


def _shown(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return repr(text if len(text) <= 40 else f"{text[:40]}…")


def _refuse(type_name: str, rule: str, value: object) -> InputValueError:
    return InputValueError(f"{type_name} must be {rule}; got {_shown(value)}.")


def _decimal_text(text: str) -> Decimal:
    if len(text) > DECIMAL_MAX_CHARS or not _PLAIN_DECIMAL.fullmatch(text):
        raise _refuse("Decimal", DECIMAL_RULE, text)
    return Decimal(text)


def parse_decimal(value: object) -> Decimal:
    """A Decimal from a variable: a plain decimal string, an integer, or a float whose shortest form is plain."""
    if isinstance(value, str):
        return _decimal_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _decimal_text(str(value))
    if isinstance(value, float):
        text = repr(value)
        if len(text.replace("-", "").replace(".", "").lstrip("0")) > FLOAT_MAX_DIGITS:
            raise _refuse("Decimal", DECIMAL_RULE, value)
        return _decimal_text(text)
    raise _refuse("Decimal", DECIMAL_RULE, value)


def parse_decimal_literal(node: ValueNode, _variables: Any = None) -> Decimal:
    """A Decimal written in the document: the literal's own text, so `12.50` stays 12.50 and `1e2` is refused."""
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return _decimal_text(node.value)
    raise _refuse("Decimal", DECIMAL_RULE, getattr(node, "value", node.kind))


def parse_date(value: object) -> dt.date:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise _refuse("Date", DATE_RULE, value)
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise _refuse("Date", DATE_RULE, value) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise _refuse("Date", DATE_RULE, value)
    return day


def parse_datetime(value: object) -> dt.datetime:
    match = _ISO_DATETIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _refuse("DateTime", DATETIME_RULE, value)
    if match["offset"] is None:
        raise InputValueError(f"DateTime needs a UTC offset (Z or ±HH:MM), e.g. \"2027-01-01T00:00:00Z\"; got "
                              f"{_shown(value)}.")
    try:
        moment = dt.datetime.fromisoformat(match.string)  # the value, as the str it was matched as
    except ValueError:
        raise _refuse("DateTime", DATETIME_RULE, value) from None
    if not FIRST_DATE.year <= moment.year <= LAST_DATE.year:
        raise _refuse("DateTime", DATETIME_RULE, value)
    return moment


def _string_literal(node: ValueNode, _variables: Any = None) -> str:
    if isinstance(node, StringValueNode):
        return node.value
    raise _refuse("The value", "a string", getattr(node, "value", node.kind))


def _date_literal(node: ValueNode, _variables: Any = None) -> dt.date:
    return parse_date(_string_literal(node))


def _datetime_literal(node: ValueNode, _variables: Any = None) -> dt.datetime:
    return parse_datetime(_string_literal(node))


STRICT_SCALARS: dict[object, ScalarDefinition] = {
    Decimal: scalar(name="Decimal", description=f"A fixed-point decimal number: {DECIMAL_RULE}. Sent back as a "
                    "string.", serialize=str, parse_value=parse_decimal, parse_literal=parse_decimal_literal),
    dt.date: scalar(name="Date", description=f"A calendar date: {DATE_RULE}.", serialize=methodcaller("isoformat"),
                    parse_value=parse_date, parse_literal=_date_literal),
    dt.datetime: scalar(name="DateTime", description=f"An instant: {DATETIME_RULE}.",
                        serialize=methodcaller("isoformat"), parse_value=parse_datetime,
                        parse_literal=_datetime_literal),
}


class NoNulInStrings(ASTValidationRule):
    """A string literal in the document may not hold NUL (`\\u0000`), as strings in variables may not: no column
    can store it. (graphql-core already refuses unpaired surrogate escapes as a syntax error.)"""

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> None:
        if "\x00" in node.value:
            self.report_error(GraphQLError("Strings may not contain NUL (\\u0000).", node,
                                           extensions={"code": "BAD_REQUEST"}))
