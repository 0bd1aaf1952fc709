"""Billing schedules: exactly one batch per due date even with several schedulers running at once (a unique key,
not luck), a missed date caught up once, pause and resume, and how far a scheduled batch goes by itself.

Real worker processes run the scheduler at their sweeper tick; the tests that travel in time run the same
scheduler code in this process under `clock.frozen_at` (the API runs in this process too, so it sees the same
time), never sleeping.
"""

import asyncio
from datetime import UTC, date, datetime, timedelta

import dramatiq
import pytest

import models
from billrun.settings import reset_settings
from domain import clock, schedules
from models.enums import Cadence
from tests.support import billing, posting
from tests.support.api import Api
from tests.support.worker import WorkerProcess

SCHEDULE = """id name cadence day autoAdvance paused nextRunOn nextRunAt lastRunOn lastError
  runs { totalCount nodes { name scheduledFor invoiceDate asOfDate status billGroup schedule { name } } }"""
CREATE = f"""mutation($input: CreateBillingScheduleInput!) {{ createBillingSchedule(input: $input) {{
  billingSchedule {{ {SCHEDULE} }} errors {{ code field message }} }} }}"""
UPDATE = f"""mutation($input: UpdateBillingScheduleInput!) {{ updateBillingSchedule(input: $input) {{
  billingSchedule {{ {SCHEDULE} }} errors {{ code field message }} }} }}"""
PAUSE = f"""mutation($id: ID!) {{ pauseBillingSchedule(input: {{id: $id}}) {{ billingSchedule {{ {SCHEDULE} }}
  errors {{ code field message }} }} }}"""
RESUME = f"""mutation($id: ID!) {{ resumeBillingSchedule(input: {{id: $id}}) {{ billingSchedule {{ {SCHEDULE} }}
  errors {{ code field message }} }} }}"""
DELETE = """mutation($id: ID!) { deleteBillingSchedule(input: {id: $id}) { deletedId errors { code field } } }"""
READ = f"query($id: ID!) {{ node(id: $id) {{ ... on BillingSchedule {{ {SCHEDULE} }} }} }}"
PERIOD = """mutation($m: Date!) { createAccountingPeriod(input: {month: $m}) { accountingPeriod { id }
  errors { code } } }"""


async def _open_months(admin: Api, *days: date) -> None:
    for month in sorted({d.replace(day=1) for d in days}):
        await admin.ok(PERIOD, {"m": month.isoformat()})


async def _schedule(admin: Api, **fields: object) -> dict:
    data = {"name": "Monthly G1", "cadence": "MONTHLY", "day": 1, "billGroup": "G1", **fields}
    return (await admin.mutate("createBillingSchedule", CREATE, {"input": data}))["billingSchedule"]


async def _read(api: Api, gid: str) -> dict:
    return (await api.ok(READ, {"id": gid}))["node"]


def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.mark.usefixtures("alone")
async def test_two_schedulers_at_once_create_one_batch_per_due_date_and_catch_a_missed_one_up_once(
        admin: Api) -> None:
    today = clock.today()
    latest = schedules.last_due_on_or_before(Cadence.MONTHLY, 1, today)
    await _open_months(admin, latest)
    # Started a hundred days ago: three or four due dates were missed (as by a scheduler that was down).
    schedule = await _schedule(admin, startsOn=(today - timedelta(days=100)).isoformat())
    assert date.fromisoformat(schedule["nextRunOn"]) < latest
    hosts = [WorkerProcess(processes=1, threads=4, cli=True, env={"BILLRUN_SWEEP_INTERVAL_SECONDS": "1"})
             for _ in range(2)]
    try:
        for host in hosts:
            host.start()
        # Besides each host's own tick, a burst of scheduler messages for both hosts' threads at once, and four
        # schedulers in this process racing them.
        from workers.broker import broker
        for _ in range(12):
            broker.enqueue(dramatiq.Message(queue_name="housekeeping", actor_name="run_schedules", args=(),
                                            kwargs={}, options={}))
        await asyncio.gather(*(schedules.run_due() for _ in range(4)))
        deadline = asyncio.get_running_loop().time() + 60
        while True:  # until the burst and three ticks of the hosts' own have run
            lines = [line for host in hosts for line in list(host.log)]
            ran = sum("run_schedules done" in line for line in lines)
            ticks = sum("claimed by" in line for line in lines)
            if ran >= 12 + 3 and ticks >= 3:
                break
            assert asyncio.get_running_loop().time() < deadline, "".join(hosts[0].log[-20:])
            await asyncio.sleep(0.1)
    finally:
        for host in hosts:
            host.stop()
    read = await _read(admin, schedule["id"])
    assert read["runs"]["totalCount"] == 1, read  # caught up once: one batch, for the latest missed date
    [run] = read["runs"]["nodes"]
    assert (run["scheduledFor"], run["invoiceDate"], run["asOfDate"]) == (latest.isoformat(),) * 3
    assert run["name"] == f"Monthly G1 {latest.isoformat()}" and run["status"] == "NOT_STARTED"
    assert run["billGroup"] == "G1" and run["schedule"] == {"name": "Monthly G1"}
    following = schedules.first_due_on_or_after(Cadence.MONTHLY, 1, today + timedelta(days=1))
    assert (read["lastRunOn"], read["nextRunOn"]) == (latest.isoformat(), following.isoformat())
    assert read["nextRunAt"] is not None and read["lastError"] is None
    # The database holds the line: a second batch for the same schedule and due date is refused by its key.
    with pytest.raises(Exception, match=r"(?i)unique"):
        await models.BillingBatch.create(code="BB-X", name="Twin", currency="USD", invoice_date=latest,
                                         as_of_date=latest, schedule_id=int(_pk(schedule["id"])),
                                         scheduled_for=latest)
    events = (await admin.ok("""{ events(filter: {types: [SCHEDULE_RAN]}) { nodes { batch { name }
      payload { ... on ScheduleRan { name dueDate error schedule { name } } } } } }"""))["events"]["nodes"]
    assert events == [{"batch": {"name": run["name"]}, "payload": {
        "name": "Monthly G1", "dueDate": latest.isoformat(), "error": None, "schedule": {"name": "Monthly G1"}}}]


def _pk(gid: str) -> str:
    from strawberry.relay import from_base64
    return from_base64(gid)[1]


async def test_pause_stops_a_schedule_and_resume_starts_it_from_today(admin: Api) -> None:
    start = clock.today() + timedelta(days=30)  # in the future, where no worker's real clock reaches
    schedule = await _schedule(admin, name="Weekly", cadence="WEEKLY", day=3, startsOn=start.isoformat())
    first = date.fromisoformat(schedule["nextRunOn"])
    assert first.isoweekday() == 3 and 0 <= (first - start).days < 7
    assert datetime.fromisoformat(schedule["nextRunAt"]) == schedules.run_at(first)
    await _open_months(admin, first, first + timedelta(days=7), first + timedelta(days=14))

    with clock.frozen_at(_at(first - timedelta(days=1))):  # the day before: nothing is due
        assert (await schedules.run_due())["scheduled_batches"] == 0
    with clock.frozen_at(_at(first)):
        assert (await schedules.run_due())["scheduled_batches"] == 1
        assert (await schedules.run_due())["scheduled_batches"] == 0  # its date is done
        paused = await admin.mutate("pauseBillingSchedule", PAUSE, {"id": schedule["id"]})
        assert paused["billingSchedule"]["paused"] is True and paused["billingSchedule"]["nextRunAt"] is None
    with clock.frozen_at(_at(first + timedelta(days=7))):
        assert (await schedules.run_due())["scheduled_batches"] == 0  # paused: stopped
    with clock.frozen_at(_at(first + timedelta(days=14))):
        resumed = (await admin.mutate("resumeBillingSchedule", RESUME, {"id": schedule["id"]}))["billingSchedule"]
        # The date passed while paused is not caught up; today is a due date, so it runs today.
        assert resumed["paused"] is False and resumed["nextRunOn"] == (first + timedelta(days=14)).isoformat()
        assert (await schedules.run_due())["scheduled_batches"] == 1
    runs = (await _read(admin, schedule["id"]))["runs"]["nodes"]
    assert [r["scheduledFor"] for r in runs] == [(first + timedelta(days=14)).isoformat(), first.isoformat()]

    audits = (await admin.ok("""query($id: ID!) { audits(filter: {entityId: $id}, first: 50) {
      nodes { operation } } }""", {"id": schedule["id"]}))["audits"]["nodes"]
    assert [a["operation"] for a in reversed(audits)][-2:] == ["PAUSE", "RESUME"]
    changes = (await admin.ok("""{ events(filter: {types: [SCHEDULE_CHANGED]}) { nodes { payload {
      ... on ScheduleChanged { change actor } } } } }"""))["events"]["nodes"]
    assert [c["payload"]["change"] for c in changes] == ["CREATED", "PAUSED", "RESUMED"]

    deleted = await admin.mutate("deleteBillingSchedule", DELETE, {"id": schedule["id"]})
    assert deleted["deletedId"] == schedule["id"]
    assert await models.BillingBatch.filter(name__startswith="Weekly ").count() == 2  # its batches stay


async def test_a_missed_quarter_is_caught_up_once_when_time_moves_on(admin: Api) -> None:
    start = date(clock.today().year + 2, 1, 1)
    schedule = await _schedule(admin, name="Quarterly", cadence="QUARTERLY", day=15, startsOn=start.isoformat())
    assert schedule["nextRunOn"] == start.replace(day=15).isoformat()
    late = date(start.year, 11, 20)  # the scheduler was down from January to November: four dates missed
    await _open_months(admin, date(start.year, 10, 15))
    with clock.frozen_at(_at(late)):
        assert (await schedules.run_due())["scheduled_batches"] == 1
        assert (await schedules.run_due())["scheduled_batches"] == 0
    read = await _read(admin, schedule["id"])
    assert [r["scheduledFor"] for r in read["runs"]["nodes"]] == [f"{start.year}-10-15"]
    assert read["nextRunOn"] == f"{start.year + 1}-01-15"

    # A due date whose accounting period is not open creates no batch: the schedule says why, and moves on.
    with clock.frozen_at(_at(date(start.year + 1, 1, 15))):
        assert (await schedules.run_due())["scheduled_batches"] == 0
    read = await _read(admin, schedule["id"])
    assert "not in an open accounting period" in read["lastError"]
    assert read["nextRunOn"] == f"{start.year + 1}-04-15" and read["runs"]["totalCount"] == 1


@pytest.mark.usefixtures("worker")
async def test_a_schedule_processes_its_batch_by_itself(admin: Api) -> None:
    accounts = await posting.company(admin)
    day = date(clock.today().year + 1, 3, 1)  # in the future, where no worker's real clock reaches
    for number, group in (("S-1", "G1"), ("OTHER-1", "G2")):
        await posting.customer(admin, accounts, number, "80.00", start=day.isoformat(), billGroup=group,
                               taxLocation="ZERO")
    await _open_months(admin, day)
    schedule = await _schedule(admin, name="Process G1", autoAdvance="PROCESS", startsOn=day.isoformat())
    with clock.frozen_at(_at(day)):
        assert (await schedules.run_due())["scheduled_batches"] == 1
    [run] = (await _read(admin, schedule["id"]))["runs"]["nodes"]
    batch = (await admin.ok("""{ billingBatches(first: 5) { nodes { id name } } }"""))["billingBatches"]["nodes"]
    [batch_id] = [b["id"] for b in batch if b["name"] == run["name"]]
    await billing.jobs_done(admin, batch_id)
    found = (await admin.ok(billing.BATCH, {"id": batch_id}))["billingBatch"]
    assert found["status"] == "PROCESSED" and found["summary"]["billingCount"] == 1  # G1 only
    assert found["summary"]["totalAmount"] == "80.00"


async def test_schedules_are_checked_and_changed(admin: Api, clerk: Api) -> None:
    schedule = await _schedule(admin)
    for data, code, field in (({"name": "Other", "cadence": "WEEKLY", "day": 8}, "INVALID_INPUT", "day"),
                              ({"name": "Other", "cadence": "MONTHLY", "day": 29}, "INVALID_INPUT", "day"),
                              ({"name": "Monthly G1", "cadence": "MONTHLY", "day": 1}, "DUPLICATE", "name"),
                              ({"name": " ", "cadence": "MONTHLY", "day": 1}, "INVALID_INPUT", "name"),
                              ({"name": "X", "cadence": "MONTHLY", "day": 1, "currency": "XYZ"}, "INVALID_CURRENCY",
                               "currency")):
        payload = (await admin.ok(CREATE, {"input": data}))["createBillingSchedule"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)], (data, payload)
    today = clock.today()
    changed = (await admin.mutate("updateBillingSchedule", UPDATE, {"input": {
        "id": schedule["id"], "cadence": "WEEKLY", "day": 5, "billGroup": None, "name": "Fridays"}}))["billingSchedule"]
    assert (changed["name"], changed["cadence"], changed["day"]) == ("Fridays", "WEEKLY", 5)
    assert changed["nextRunOn"] == schedules.first_due_on_or_after(Cadence.WEEKLY, 5, today).isoformat()
    refused = (await admin.ok(UPDATE, {"input": {"id": schedule["id"], "day": None}}))["updateBillingSchedule"]
    assert [e["code"] for e in refused["errors"]] == ["INVALID_INPUT"]
    # A billing clerk reads schedules but may not change them.
    assert (await clerk.ok("{ billingSchedules { nodes { name } } }"))["billingSchedules"]["nodes"] == [
        {"name": "Fridays"}]
    denied = (await clerk.ok(PAUSE, {"id": schedule["id"]}))["pauseBillingSchedule"]
    assert [e["code"] for e in denied["errors"]] == ["PERMISSION_DENIED"]


RULE = """mutation($input: CreateApprovalRuleInput!) { createApprovalRule(input: $input) {
  approvalRule { id } errors { code field message } } }"""


@pytest.mark.usefixtures("worker", "smtp_server")
async def test_auto_post_only_when_the_setting_allows_and_the_rules_are_met(admin: Api, monkeypatch) -> None:
    accounts = await posting.company(admin)
    day = date(clock.today().year + 1, 6, 1)  # in the future, where no worker's real clock reaches
    await _open_months(admin, day)
    for number, group in (("P-1", "SMALL"), ("P-2", "LARGE"), ("P-3", "LARGE")):
        await posting.customer(admin, accounts, number, "500.00", start=day.isoformat(), billGroup=group,
                               taxLocation="ZERO")
    batches = {}
    for group in ("SMALL", "LARGE"):
        schedule = await _schedule(admin, name=f"Post {group}", billGroup=group, autoAdvance="PROCESS",
                                   startsOn=day.isoformat())
        with clock.frozen_at(_at(day)):
            await schedules.run_due()
        [run] = (await _read(admin, schedule["id"]))["runs"]["nodes"]
        found = (await admin.ok("{ billingBatches(first: 10) { nodes { id name } } }"))["billingBatches"]["nodes"]
        batches[group] = next(b["id"] for b in found if b["name"] == run["name"])
        await billing.jobs_done(admin, batches[group])
    # The LARGE batch's 1000.00 is above the total rule: it waits for a second user.
    await admin.mutate("createApprovalRule", RULE, {"input": {"kind": "BATCH_TOTAL_ABOVE", "threshold": "600.00",
                                                              "currency": "USD"}})
    with clock.frozen_at(_at(day)):
        assert (await schedules.run_due())["scheduled_posts"] == 0  # billings NEW, and the setting is off
        for batch in batches.values():
            await posting.approve_all(admin, batch)
        assert (await schedules.run_due())["scheduled_posts"] == 0  # the setting is off
    monkeypatch.setenv("BILLRUN_SCHEDULE_AUTO_POST", "true")
    reset_settings()
    try:
        with clock.frozen_at(_at(day)):
            assert (await schedules.run_due())["scheduled_posts"] == 1
            assert (await schedules.run_due())["scheduled_posts"] == 0  # posting: not twice
    finally:
        monkeypatch.delenv("BILLRUN_SCHEDULE_AUTO_POST")
        reset_settings()
    done = await posting.follow_ups_done(admin, batches["SMALL"])
    assert done["status"] == "POSTED" and done["postMode"] == "SEND" and done["summary"]["invoiceCount"] == 1
    waiting = (await admin.ok(posting.BATCH, {"id": batches["LARGE"]}))["billingBatch"]
    assert waiting["status"] == "PROCESSED" and waiting["summary"]["invoiceCount"] == 0
