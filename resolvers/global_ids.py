"""Global ids of records that other records name by database id: the audited record of an audit row, the
subject of a finding and the source item of a billing line (a line's trace links its records as nodes).

The graph speaks Relay everywhere: these are presented as `base64("Type:id")`, like every other id, at read
time (the rows keep plain ids). A global id names a record, it does not reveal it: `node(id)` still answers
through the viewer's scope.
"""

from strawberry import relay

# Audit rows name their record by kind and id. A line's distributions are audited as one field of the line
# (`RevenueDistribution` rows carry the line's id), so they point at the line.
AUDITED_AS = {"RevenueDistribution": "BillingDetail"}

def global_id(type_name: str | None, pk: int | None) -> relay.GlobalID | None:
    """The global id of a record of `type_name`, or None when either is missing."""
    if type_name is None or pk is None:
        return None
    return relay.GlobalID(type_name, str(pk))


def audited_record(entity: str, entity_id: int) -> relay.GlobalID:
    """The global id of the record an audit row is about."""
    return relay.GlobalID(AUDITED_AS.get(entity, entity), str(entity_id))


def audit_entities(type_name: str) -> list[str]:
    """The audit entities whose rows are about records of this node type (the inverse of `audited_record`)."""
    return [type_name] + [entity for entity, node in AUDITED_AS.items() if node == type_name]


# Audited fields whose values are ids, and the node type they name.
AUDITED_IDS = {"batch_id": "BillingBatch", "revenue_account_id": "LedgerAccount"}


def audited_value(field: str, value: str | None) -> str | None:
    """An audit row's before/after as shown: ids as global ids (a batch moved from and to, a line's revenue
    account, each `account:amount` of a line's distributions)."""
    if value is None:
        return None
    if field in AUDITED_IDS and value.isdigit():
        return str(relay.GlobalID(AUDITED_IDS[field], value))
    if field == "distributions" and value:
        parts = [part.rpartition(":") for part in value.split(", ")]
        return ", ".join(f"{relay.GlobalID('LedgerAccount', pk)}:{amount}" if pk.isdigit() else f"{pk}:{amount}"
                         for pk, _, amount in parts)
    return value
