"""Whether a value fits where it is going: text within its column, numbers within theirs, e-mail addresses that
are addresses. Every create and update of the domain checks its input here before anything is written, so an
oversized or malformed value is a typed INVALID_INPUT naming the field, never a database error.

Limits are read from the models (a CharField's `max_length`, a DecimalField's digits), so a column and its
check cannot drift apart; TextFields hold up to BILLRUN_MAX_TEXT_LENGTH characters.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email
from tortoise import fields
from tortoise.models import Model

from billrun.settings import get_settings
from domain.errors import DomainError, ErrorCode, Problem, raise_if

SEARCH_MAX_LENGTH = 200  # a list filter's "part of the name or number"
INTEGER_MAX = 2**31 - 1  # an `integer` column


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def max_length(model: type[Model], name: str) -> int | None:
    """How many characters the column `name` of `model` holds; None when it is not a text column."""
    field = model._meta.fields_map.get(name)
    if isinstance(field, fields.CharField):
        return field.max_length
    if isinstance(field, fields.TextField):
        return get_settings().max_text_length
    return None


def fits(model: type[Model], name: str, value: str) -> bool:
    """True when `value` fits the text column `name` (a lookup by a longer value can match nothing)."""
    limit = max_length(model, name)
    return limit is None or len(value) <= limit


def text_problems(model: type[Model], values: Mapping[str, Any],
                  names: Mapping[str, str] | None = None) -> list[Problem]:
    """"name is at most 200 characters" for each string of `values` (keyed by `model`'s field names) longer
    than its column. `names` gives the input field for a model field where it is not its camelCase."""
    problems = []
    for key, value in values.items():
        if isinstance(value, str) and (limit := max_length(model, key)) is not None and len(value) > limit:
            field = (names or {}).get(key, camel(key))
            problems.append(Problem(ErrorCode.INVALID_INPUT, f"{field} is at most {limit} characters.", field))
    return problems


def check_text(model: type[Model], values: Mapping[str, Any], names: Mapping[str, str] | None = None) -> None:
    """Refuse with every `text_problems` at once."""
    raise_if(text_problems(model, values, names))


def decimal_problems(model: type[Model], name: str, value: Decimal | None, field: str | None = None) -> list[Problem]:
    """A positive number that fits the DecimalField `name` of `model` (a quantity of NUMERIC(14,4): at most 10
    digits before the point and 4 after). None passes (the default applies)."""
    if value is None:
        return []
    column = model._meta.fields_map[name]
    assert isinstance(column, fields.DecimalField)
    places = column.decimal_places
    whole = column.max_digits - places
    if not value.is_finite() or value <= 0 or value >= Decimal(10) ** whole or value != round(value, places):
        field = field or camel(name)
        return [Problem(ErrorCode.INVALID_INPUT, f"{field} must be positive, with at most {whole} digits before "
                        f"the point and {places} after it.", field)]
    return []


def int_problems(value: int | None, field: str, low: int, high: int) -> list[Problem]:
    """`value` must be a whole number from `low` to `high`; None passes."""
    if value is not None and not low <= value <= high:
        return [Problem(ErrorCode.INVALID_INPUT, f"{field} must be from {low} to {high}.", field)]
    return []


def email_address(value: str, field: str) -> str:
    """The address normalized (domain in lower case), or INVALID_INPUT: checked for syntax by `email-validator`
    (no DNS lookup), so no space, CR/LF, quoting, display name or special-use domain (.local, .invalid…) passes,
    and the local part is ASCII (invoice e-mails are sent without SMTPUTF8)."""
    try:
        return validate_email(value, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as error:
        shown = value if len(value) <= 80 else f"{value[:80]}…"
        raise DomainError(ErrorCode.INVALID_INPUT, f"{shown!r} is not an e-mail address: {error}", field) from None


def email_problems(value: str | None, field: str) -> list[Problem]:
    """`email_address`'s refusal as a list of problems (none for a valid address or None)."""
    if value is None:
        return []
    try:
        email_address(value, field)
    except DomainError as error:
        return error.problems
    return []
