"""Turning GraphQL inputs into plain dicts for the domain: unset fields dropped, global ids decoded."""

import dataclasses
from typing import Any

from strawberry import UNSET, relay

from domain.errors import DomainError, ErrorCode

# Which node type an id field must name; a mismatch reads as not found.
ID_TYPES = {
    "account_id": "Account",
    "contract_id": "SalesContract",
    "charge_id": "RecurringCharge",
    "revenue_account_id": "LedgerAccount",
    "ledger_account_id": "LedgerAccount",
    "user_id": "User",
    "user_ids": "User",
    "id": None,  # checked by the caller, who knows the type
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def decode_id(value: relay.GlobalID, type_name: str | None, field: str) -> int:
    if type_name is not None and value.type_name != type_name:
        raise DomainError(ErrorCode.NOT_FOUND, f"No {type_name} with this id.", camel(field))
    try:
        return int(value.node_id)
    except ValueError:
        raise DomainError(ErrorCode.NOT_FOUND, "No record with this id.", camel(field)) from None


def filter_id(value: relay.GlobalID, type_name: str) -> int | None:
    """The database id a list filter names, or None when the global id names another type (or no integer): a
    filter on a record that cannot exist matches nothing, like one on a hidden record."""
    if value.type_name != type_name:
        return None
    try:
        return int(value.node_id)
    except ValueError:
        return None


# Fields of every mutation input that are about the request, not its data (read by schema/idempotency.py).
ENVELOPE = ("idempotency_key",)


def to_data(input_obj: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields the client set, snake_case, with global ids replaced by database ids."""
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
