"""Teams, four-eyes rules and billing schedules on the embedded default (SQLite, the in-process worker): the
migration's tables and unique key hold there too."""

from datetime import UTC, date, datetime

import pytest
from strawberry.relay import to_base64

import models
from domain import clock, schedules
from tests.conftest import make_token
from tests.support import billing, posting
from tests.support.api import Api


async def test_schedule_team_and_four_eyes_on_sqlite(admin: Api, client) -> None:
    from workers.embedded import in_process_worker

    accounts = await posting.company(admin)
    day = date(clock.today().year + 1, 2, 1)
    await admin.ok("""mutation($m: Date!) { createAccountingPeriod(input: {month: $m}) { errors { code } } }""",
                   {"m": day.isoformat()})
    account = await posting.customer(admin, accounts, "E-1", "900.00", start=day.isoformat(), taxLocation="ZERO")
    await admin.mutate("createApprovalRule", """mutation { createApprovalRule(input: {kind: BILLING_AMOUNT_ABOVE,
      threshold: "500.00", currency: "USD"}) { approvalRule { id } errors { code field message } } }""")
    await admin.mutate("createBillingSchedule", """mutation($input: CreateBillingScheduleInput!) {
      createBillingSchedule(input: $input) { billingSchedule { id } errors { code field message } } }""", {"input": {
        "name": "Embedded", "cadence": "MONTHLY", "day": 1, "autoAdvance": "PROCESS",
        "startsOn": day.isoformat()}})
    async with in_process_worker():
        with clock.frozen_at(datetime(day.year, day.month, day.day, 9, tzinfo=UTC)):
            assert (await schedules.run_due())["scheduled_batches"] == 1
            assert (await schedules.run_due())["scheduled_batches"] == 0
        batch = next(b["id"] for b in (await admin.ok("{ billingBatches { nodes { id name } } }"))[
            "billingBatches"]["nodes"] if b["name"].startswith("Embedded "))
        await billing.jobs_done(admin, batch)
    with pytest.raises(Exception, match=r"(?i)unique"):
        await models.BillingBatch.create(code="BB-X", name="Twin", currency="USD", invoice_date=day, as_of_date=day,
                                         schedule_id=(await models.BillingSchedule.get(name="Embedded")).id,
                                         scheduled_for=day)
    [row] = await billing.billings(admin, batch)
    user, token = await make_token("anna@example.com", ["BILLING_ACCESS", "BILLING_APPROVE"], "Anna")
    anna = Api(client, token)
    await anna.mutate("updatePeriodicBilling", """mutation($id: ID!) { updatePeriodicBilling(input: {id: $id,
      internalComment: "ok"}) { periodicBilling { id } errors { code } } }""", {"id": row["id"]})
    grid = (await anna.ok("query($id: ID!) { periodicBilling(id: $id) { allowedTransitions } }", {"id": row["id"]}))
    assert "APPROVED" not in grid["periodicBilling"]["allowedTransitions"]
    assert "APPROVED" in (await admin.ok("query($id: ID!) { periodicBilling(id: $id) { allowedTransitions } }",
                                         {"id": row["id"]}))["periodicBilling"]["allowedTransitions"]

    # A team grant on SQLite: seen while a member, hidden once removed.
    team = (await admin.mutate("createTeam", """mutation { createTeam(input: {name: "Desk"}) { team { id }
      errors { code } } }"""))["team"]["id"]
    await admin.mutate("restrictAccount", """mutation($input: RestrictAccountInput!) { restrictAccount(input: $input)
      { account { id } errors { code } } }""", {"input": {"accountId": account, "restricted": True,
                                                        "teamIds": [team]}})
    member = {"teamId": team, "userId": to_base64("User", user.id)}
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await anna.ok(node, {"id": row["id"]}))["node"] is None
    await admin.mutate("addTeamMember", """mutation($input: TeamMemberInput!) { addTeamMember(input: $input) {
      team { id } errors { code } } }""", {"input": member})
    assert (await anna.ok(node, {"id": row["id"]}))["node"] == {"id": row["id"]}
    await admin.mutate("removeTeamMember", """mutation($input: TeamMemberInput!) { removeTeamMember(input: $input) {
      team { id } errors { code } } }""", {"input": member})
    assert (await anna.ok(node, {"id": row["id"]}))["node"] is None
