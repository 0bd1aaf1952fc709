"""Billing dispositions through the API: the state machine, ordering rules, concurrency, mass updates."""

import asyncio
import itertools

import asyncpg
import pytest
from strawberry.relay import from_base64, to_base64
from tortoise import connections
from tortoise.exceptions import OperationalError

import models
from domain.dispositions import USER_TARGETS
from models.enums import BillingStatus
from tests.conftest import make_token
from tests.support import billing, builders, waiting
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

UPDATE = """mutation($id: ID!, $status: BillingStatus!, $version: Int) { updateBillingStatus(input: {
  billingId: $id, status: $status, expectedVersion: $version}) { periodicBilling { billingStatus version }
  errors { code field message } } }"""
ALLOWED = "query($id: ID!) { periodicBilling(id: $id) { billingStatus allowedTransitions version } }"
MASS = """mutation($batch: ID!, $status: BillingStatus!, $filter: PeriodicBillingFilter) { massUpdateBillingStatus(
  input: {batchId: $batch, status: $status, filter: $filter}) { changedCount refusedCount
  refusals { billingId code message } errors { code } } }"""


def _db_id(gid: str) -> int:
    return int(from_base64(gid)[1])


async def _three_months(admin: Api, number: str = "D-1") -> tuple[str, list[str]]:
    """A batch holding three consecutive monthly billings of one contract (March, April, May)."""
    accounts = await billing.books(admin)
    account = await builders.account(admin, number, taxLocation="ZERO")
    contract = await builders.contract(admin, account, f"SC-{number}", start="2026-03-01")
    await builders.charge(admin, contract, "10.00", accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    return batch, [r["id"] for r in await billing.billings(admin, batch)]


async def test_every_status_target_and_permission_agrees_with_allowed_transitions(admin: Api, client) -> None:
    accounts = await billing.books(admin)
    account = await builders.account(admin, "M-1", taxLocation="ZERO")
    await builders.charge(admin, await builders.contract(admin, account, "SC-M", start="2026-05-01"), "10.00",
                          accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    [gid] = [r["id"] for r in await billing.billings(admin, batch)]
    _, approver_token = await make_token("approver@example.com", ["BILLING_ACCESS", "BILLING_APPROVE"])
    _, clerk_token = await make_token("reviewer@example.com", ["BILLING_ACCESS"])
    checked = 0
    for token, status in itertools.product((approver_token, clerk_token), BillingStatus):
        api = Api(client, token)
        for target in BillingStatus:
            await models.PeriodicBilling.filter(id=_db_id(gid)).update(status=status)
            offered = (await api.ok(ALLOWED, {"id": gid}))["periodicBilling"]["allowedTransitions"]
            payload = (await api.ok(UPDATE, {"id": gid, "status": target.value}))["updateBillingStatus"]
            accepted = payload["errors"] == []
            if target == status:
                continue
            assert accepted == (target.value in offered), (token == clerk_token, status, target, payload)
            if not accepted:
                # An invoiced billing is rejected only once its invoice is fully credited (docs/CREDIT_NOTES.md).
                assert payload["errors"][0]["code"] in ("INVALID_TRANSITION", "PERMISSION_DENIED") or (
                    status == BillingStatus.INVOICED and target == BillingStatus.REJECTED
                    and payload["errors"][0]["code"] == "INVOICE_NOT_CREDITED")
            checked += 1
    assert checked == 2 * 8 * 7
    # what the matrix means, in words: approving needs BILLING_APPROVE, INVOICED is never a user's
    await models.PeriodicBilling.filter(id=_db_id(gid)).update(status="NEW")
    offered = (await Api(client, clerk_token).ok(ALLOWED, {"id": gid}))["periodicBilling"]["allowedTransitions"]
    assert "APPROVED" not in offered and "INVOICED" not in offered and "HOLD" in offered
    assert set(USER_TARGETS) >= {BillingStatus(s) for s in offered}


async def test_ordering_rules_on_three_consecutive_billings_and_re_billing(admin: Api) -> None:
    _batch, (march, april, may) = await _three_months(admin)

    async def move(gid: str, status: str) -> list:
        return [e["code"] for e in (await admin.ok(UPDATE, {"id": gid, "status": status}))["updateBillingStatus"][
            "errors"]]

    assert await move(april, "REJECTED") == ["EARLIER_BILLING_NOT_DISPOSITIONED"]
    assert await move(march, "HOLD") == []
    assert await move(april, "REJECTED") == ["LATER_BILLING_EXISTS"]
    assert await move(may, "REJECTED") == ["EARLIER_BILLING_NOT_DISPOSITIONED"]
    assert await move(april, "APPROVAL_IN_PROCESS") == []
    assert await move(may, "REJECTED") == []
    assert await move(april, "REJECTED") == []
    assert await move(april, "NEW") == ["INVALID_TRANSITION"]  # REJECTED is final
    delete = """mutation($id: ID!) { deletePeriodicBilling(input: {id: $id}) { deletedId errors { code } } }"""
    assert (await admin.ok(delete, {"id": march}))["deletePeriodicBilling"]["errors"] == [{"code": "INVALID_STATUS"}]
    assert await move(march, "CANCELLED") == []
    assert (await admin.ok(delete, {"id": march}))["deletePeriodicBilling"] == {"deletedId": march, "errors": []}
    # the next processing bills again the deleted March and the rejected April and May
    second = await billing.batch(admin, "Re-billing")
    await billing.process(admin, second)
    rows = await billing.billings(admin, second)
    assert [r["billingStartingDate"] for r in rows] == ["2026-03-01", "2026-04-01", "2026-05-01"]
    audits = await admin.ok("query($id: ID!) { periodicBilling(id: $id) { audits { field before after operation "
                            "actorLabel } } }", {"id": april})
    assert [(a["before"], a["after"]) for a in audits["periodicBilling"]["audits"]] == [
        ("APPROVAL_IN_PROCESS", "REJECTED"), ("NEW", "APPROVAL_IN_PROCESS")]


async def test_concurrent_dispositions_of_one_billing(admin: Api, client) -> None:
    _batch, (march, _, _) = await _three_months(admin)
    _, token = await make_token("second@example.com", ["BILLING_ACCESS", "BILLING_APPROVE"])
    other = Api(client, token)
    version = (await admin.ok(ALLOWED, {"id": march}))["periodicBilling"]["version"]
    first, second = await asyncio.gather(
        admin.ok(UPDATE, {"id": march, "status": "APPROVED", "version": version}),
        other.ok(UPDATE, {"id": march, "status": "HOLD", "version": version}))
    outcomes = [first["updateBillingStatus"], second["updateBillingStatus"]]
    winners = [o for o in outcomes if not o["errors"]]
    losers = [o for o in outcomes if o["errors"]]
    assert len(winners) == 1 and [e["code"] for e in losers[0]["errors"]] == ["CONCURRENT_UPDATE"]
    final = (await admin.ok(ALLOWED, {"id": march}))["periodicBilling"]
    assert final["billingStatus"] == winners[0]["periodicBilling"]["billingStatus"] and final["version"] == version + 1
    trail = await models.Audit.filter(billing_id=_db_id(march)).values_list("before", "after", "actor_label")
    assert len(trail) == 1 and trail[0][1] == final["billingStatus"]


async def test_mass_update_mixes_allowed_and_refused(admin: Api, client) -> None:
    accounts = await billing.books(admin)
    for i in range(4):
        account = await builders.account(admin, f"MU-{i}", taxLocation="ZERO" if i else "NOWHERE")
        await builders.charge(admin, await builders.contract(admin, account, f"SC-MU{i}", start="2026-05-01"),
                              "10.00", accounts["revenue"])
    batch = await billing.batch(admin)
    await billing.process(admin, batch)
    _, token = await make_token("noapprove@example.com", ["BILLING_ACCESS"])
    refused_all = (await Api(client, token).ok(MASS, {"batch": batch, "status": "APPROVED"}))
    # Approving needs BILLING_APPROVE: refused once for the call, not once per billing.
    assert refused_all["massUpdateBillingStatus"] == {"changedCount": 0, "refusedCount": 0, "refusals": [],
                                                      "errors": [{"code": "PERMISSION_DENIED"}]}
    result = (await admin.ok(MASS, {"batch": batch, "status": "APPROVED"}))["massUpdateBillingStatus"]
    assert result["changedCount"] == 3 and result["refusedCount"] == 1
    [refusal] = result["refusals"]
    assert refusal["code"] == "INVALID_TRANSITION" and "rejected with errors" in refusal["message"]
    statuses = await admin.ok("query($id: ID!) { billingBatch(id: $id) { summary { billingCounts { status count } }"
                              " } }", {"id": batch})
    assert {c["status"]: c["count"] for c in statuses["billingBatch"]["summary"]["billingCounts"]} == {
        "APPROVED": 3, "REJECTED_WITH_ERRORS": 1}
    audits = await admin.ok("""query($id: ID!) { audits(filter: {batchId: $id, operation: "MASS_DISPOSITION"}) {
      totalCount nodes { before after actor { email } } } }""", {"id": batch})
    assert audits["audits"]["totalCount"] == 3
    assert {(a["before"], a["after"]) for a in audits["audits"]["nodes"]} == {("NEW", "APPROVED")}
    filtered = (await admin.ok(MASS, {"batch": batch, "status": "HOLD", "filter": {"status": ["APPROVED"],
                                                                                 "search": "MU-1"}}))
    assert filtered["massUpdateBillingStatus"]["changedCount"] == 1


async def test_move_billings_to_another_batch(admin: Api) -> None:
    _batch, (_march, _april, may) = await _three_months(admin)
    target = await billing.batch(admin, "Holding pen")
    move = """mutation($ids: [ID!]!, $to: ID!) { moveBillings(input: {billingIds: $ids, toBatchId: $to}) {
      movedCount billingBatch { name summary { billingCount } } errors { code } } }"""
    payload = (await admin.ok(move, {"ids": [may], "to": target}))["moveBillings"]
    assert payload == {"movedCount": 1, "billingBatch": {"name": "Holding pen", "summary": {"billingCount": 1}},
                       "errors": []}
    missing = (await admin.ok(move, {"ids": [to_base64("PeriodicBilling", 999999)], "to": target}))
    assert missing["moveBillings"]["errors"] == [{"code": "NOT_FOUND"}]


async def test_audit_rows_cannot_be_changed_below_the_orm(admin: Api) -> None:
    _, (march, _, _) = await _three_months(admin)
    await admin.mutate("updateBillingStatus", UPDATE, {"id": march, "status": "HOLD"})
    conn = connections.get("default")
    with pytest.raises((OperationalError, asyncpg.exceptions.RaiseError), match="never updated or deleted"):
        await conn.execute_query("UPDATE audit SET after = 'APPROVED'")
    with pytest.raises((OperationalError, asyncpg.exceptions.RaiseError), match="never updated or deleted"):
        await conn.execute_query("DELETE FROM audit")
    assert await models.Audit.filter(operation="DISPOSITION").count() == 1


async def test_a_mass_update_checks_a_billing_changed_meanwhile_again_on_what_it_is_now(
        admin: Api, pg: asyncpg.Connection) -> None:
    """The mass update's UPDATE takes the rows' locks itself and changes a billing only at the version its rules
    were checked on. Billings another client changed meanwhile are read again once that change commits and their
    rules checked on what they are now: an edited one is approved with the edit kept (no lost update), one that
    became REJECTED meanwhile is refused by its rule, never overwritten."""
    batch, (march, april, may) = await _three_months(admin, "D-RACE")
    edited, rejected = _db_id(april), _db_id(may)
    other = pg.transaction()  # another client's changes, committed while the mass update waits for their rows
    await other.start()
    await pg.execute("UPDATE periodic_billing SET external_comment = 'edited', version = version + 1 WHERE id = $1",
                     edited)
    await pg.execute("UPDATE periodic_billing SET status = 'REJECTED', version = version + 1 WHERE id = $1", rejected)
    mass = asyncio.create_task(admin.ok(MASS, {"batch": batch, "status": "APPROVED"}))
    await waiting.until(lambda: pg.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                            "current_database() AND wait_event_type = 'Lock'"),
                        "the mass update waiting for the changed billings' row locks")
    await other.commit()
    result = (await mass)["massUpdateBillingStatus"]
    assert result["changedCount"] == 2 and result["refusedCount"] == 1, result
    [(billing_id, code)] = [(r["billingId"], r["code"]) for r in result["refusals"]]
    assert billing_id == may and code not in ("CONCURRENT_UPDATE", ""), result
    rows = {b.id: b for b in await models.PeriodicBilling.filter(batch_id=_db_id(batch))}
    assert {i: b.status for i, b in rows.items()} == {_db_id(march): BillingStatus.APPROVED,
                                                      edited: BillingStatus.APPROVED,
                                                      rejected: BillingStatus.REJECTED}
    assert rows[edited].external_comment == "edited"
    audited = [b for (b,) in await models.Audit.filter(operation="MASS_DISPOSITION").values_list("billing_id")]
    assert sorted(audited) == sorted([_db_id(march), edited])
