"""Turning GraphQL inputs into plain dicts for the domain: unset fields dropped, nulls checked, global ids decoded.

Every global id a client sends is decoded here (`node_pk`): mutations, lookups, filters, `node(id)` and the
download routes. A node id that is not a canonical positive integer within the column's range names no row, so it
reads as NOT_FOUND or null and never reaches the database.
"""

import dataclasses
import re
from typing import Any

from strawberry import UNSET, relay

from domain.errors import DomainError, ErrorCode, Problem, raise_if

# Which node type an id field must name; a mismatch reads as not found.
ID_TYPES = {
    "account_id": "Account",
    "contract_id": "SalesContract",
    "charge_id": "RecurringCharge",
    "revenue_account_id": "LedgerAccount",
    "ledger_account_id": "LedgerAccount",
    "user_id": "User",
    "user_ids": "User",
    "team_id": "Team",
    "team_ids": "Team",
    "id": None,  # checked by the caller, who knows the type
}

INTEGER_MAX = 2**31 - 1  # PostgreSQL `integer`: every id column but the bigint ones of append-only logs
_CANONICAL = re.compile(r"[1-9][0-9]{0,18}", re.ASCII)  # how billrun writes ids: no sign, padding or zeros

# Input fields that may be left out and whose explicit null means something, by input type. Any other field
# that may be left out refuses null with INVALID_INPUT "… must not be null": it has no value to set. (Fields
# whose schema default is null take null as that default and are not listed.)
NULL_MEANS: dict[str, dict[str, str]] = {
    "CreateAccountInput": {"payment_method_token": "no payment-method token"},
    "UpdateAccountInput": {"payment_method_token": "remove the payment-method token"},
    "UpdateSalesContractInput": {"end_date": "open-ended"},
    "UpdateRecurringChargeInput": {"revenue_account_id": "no revenue account"},
    "UpdateDatedPriceInput": {"last_effective_date": "open-ended"},
    "UpdateWorkOrderInput": {"rate": "no rate yet", "revenue_account_id": "no revenue account"},
    "UpdateManualChargeInput": {"revenue_account_id": "no revenue account"},
    "UpdateTaxRateInput": {"ledger_account_id": "no tax ledger account"},
    "UpdatePeriodicBillingInput": {"internal_comment": "clear the comment", "external_comment": "clear the comment",
                                   "invoice_date_override": "the batch's invoice date"},
    "UpdateUserInput": {"current_password": "not given"},
    "UpdateBillingScheduleInput": {"bill_group": "every bill group", "division": "every division"},
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def node_pk(node_id: object, maximum: int = INTEGER_MAX) -> int | None:
    """The database id a node id names, or None when it names none: anything but ASCII digits without sign or
    leading zero, or a number beyond `maximum` (the id column's range)."""
    if not isinstance(node_id, str) or not _CANONICAL.fullmatch(node_id):
        return None
    pk = int(node_id)
    return pk if pk <= maximum else None


def global_pk(value: object, type_name: str | None) -> int | None:
    """The database id a global id names when it names a record of `type_name` (any type when None)."""
    if not isinstance(value, relay.GlobalID) or (type_name is not None and value.type_name != type_name):
        return None
    return node_pk(value.node_id)


def decode_id(value: relay.GlobalID, type_name: str | None, field: str) -> int:
    """The database id of an input's global id, or NOT_FOUND (another type, or no id billrun could have made)."""
    pk = global_pk(value, type_name)
    if pk is None:
        what = type_name or "record"
        raise DomainError(ErrorCode.NOT_FOUND, f"No {what} with this id.", camel(field))
    return pk


def filter_id(value: relay.GlobalID, type_name: str) -> int | None:
    """The database id a list filter names, or None when the global id names another type (or no id at all): a
    filter on a record that cannot exist matches nothing, like one on a hidden record."""
    return global_pk(value, type_name)


def null_problems(input_obj: Any) -> list[str]:
    """The fields of an input that may be left out but were given as null without a meaning for it."""
    meanings = NULL_MEANS.get(type(input_obj).__name__, {})
    return [f.name for f in dataclasses.fields(input_obj)
            if f.default is UNSET and getattr(input_obj, f.name) is None and f.name not in meanings]


def check_nulls(input_obj: Any) -> None:
    """Refuse every null of `null_problems` at once, each naming its field."""
    raise_if([Problem(ErrorCode.INVALID_INPUT, f"{camel(name)} must not be null.", camel(name))
              for name in null_problems(input_obj)])


# Fields of every mutation input that are about the request, not its data (read by schema/idempotency.py).
ENVELOPE = ("idempotency_key",)


def to_data(input_obj: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields the client set, snake_case, with global ids replaced by database ids. A null where the field
    has no meaning for it (see NULL_MEANS) is refused, skipped fields included."""
    check_nulls(input_obj)
    data: dict[str, Any] = {}
    for f in dataclasses.fields(input_obj):
        value = getattr(input_obj, f.name)
        if value is UNSET or f.name in skip or f.name in ENVELOPE:
            continue
        if isinstance(value, relay.GlobalID):
            value = decode_id(value, ID_TYPES.get(f.name), f.name)
        elif isinstance(value, list) and value and isinstance(value[0], relay.GlobalID):
            value = [decode_id(v, ID_TYPES.get(f.name), f.name) for v in value]
        data[f.name] = value
    return data
