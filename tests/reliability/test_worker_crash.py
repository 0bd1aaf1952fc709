"""Worker crash at seeded points (reliability section `worker_crash`).

One billing run (processing, posting, e-mailing every invoice to the real SMTP fixture, auto-pay through the
sandbox gateway, every event POSTed to a real webhook receiver) and then a credit note with a refund for each
invoice, while a real worker process is killed again and again: at least five points per kind, picked with
`random.Random(SEED)` among the kind's fault points (`domain.faults`, `name#k` = the k-th time any process
reaches it: the job protocol's steps, and the points between an outside call and recording its answer). A
`Keeper` starts a new worker after each death, as a supervisor would. Afterwards every count is exact: one
billing per contract period, one invoice, one e-mail, one charge and one refund per invoice or credit note;
webhooks are at least once, so each event id arrives at least once (distinct ids = events produced) and the
extra arrivals are reported as redeliveries. Nothing is left open: no unfinished job or chunk, no SENDING
delivery, no unsettled payment or refund, no webhook lease held.
"""

import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from strawberry.relay import to_base64

import models
from domain import jobs
from domain.webhooks import global_id
from models.enums import JobStatus, PaymentStatus
from tests.reliability.results import record
from tests.support import billing, posting, waiting, webhooks
from tests.support.api import Api
from tests.support.crash import Crash, Keeper
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.usefixtures("alone")

SEED = int(os.environ.get("BILLRUN_RELIABILITY_SEED", "15"))
KILLS_PER_KIND = 5
CUSTOMERS = 8
CHUNK = 2  # processing, posting and sending chunks of 2: four of each; auto-pay and credit notes: one per item
HEARTBEAT_MS = int(os.environ["BILLRUN_BROKER_HEARTBEAT_TIMEOUT_MS"])
WORKER_SETTINGS = {
    "BILLRUN_CHUNK_SIZE": str(CHUNK), "BILLRUN_SEND_CHUNK_SIZE": str(CHUNK),
    "BILLRUN_JOB_STALE_AFTER_SECONDS": "2",  # the sweeper (every second) re-sends a job nothing moved for 2 s
    "BILLRUN_DELIVERY_STUCK_AFTER_SECONDS": "3",  # an e-mail whose worker died after sending: reported at 3 s
    # A dead sender holds its endpoint 6 s (a lease must also outlast the wait of its message in the queue).
    "BILLRUN_WEBHOOK_TIMEOUT_SECONDS": "2", "BILLRUN_WEBHOOK_LEASE_MARGIN_SECONDS": "4",
}
# The endpoint's event types: one or two events per job, invoice, payment, credit note and refund (about 70).
WEBHOOK_TYPES = ["JOB_QUEUED", "JOB_FINISHED", "BATCH_STATUS_CHANGED", "INVOICE_DELIVERED", "INVOICE_DELIVERY_FAILED",
                 "PAYMENT_SETTLED", "CREDIT_NOTE_ISSUED", "REFUND_SETTLED"]
ISSUE = """mutation($id: ID!) { issueCreditNote(input: {id: $id}) { creditNote { id refundAmount }
  errors { code field message } } }"""
CREATE = """mutation($input: CreateCreditNoteInput!) { createCreditNote(input: $input) { creditNote { id }
  errors { code field message } } }"""


def _seeded_points(rng: random.Random) -> dict[str, list[str]]:
    """Five points per kind, each surely reached in this run (its reach counts are certain lower bounds:
    chunks commit once each, the last one finishes instead, each outside call happens once per item)."""
    chunks = CUSTOMERS // CHUNK

    def protocol(kind: str, chunk_count: int, jobs_of_kind: int = 1) -> list[str]:
        return ([f"{kind}.plan.committed#{k}" for k in range(1, jobs_of_kind + 1)]
                + [f"{kind}.finish.committed#{k}" for k in range(1, jobs_of_kind + 1)]
                + [f"{kind}.chunk.before_commit#{k}" for k in range(1, chunk_count + 1)]
                + [f"{kind}.chunk.committed#{k}" for k in range(1, chunk_count - jobs_of_kind + 1)])

    pools = {
        "process": protocol("process", chunks),
        "post": protocol("post", chunks),
        "send": protocol("send", chunks) + [f"send.mailed#{k}" for k in range(1, CUSTOMERS + 1)],
        "auto_pay": protocol("auto_pay", CUSTOMERS) + [f"auto_pay.charged#{k}" for k in range(1, CUSTOMERS + 1)],
        "webhook": [f"webhook.posted#{k}" for k in range(1, 31)],
        "credit_note": protocol("credit_note", 2 * CUSTOMERS, CUSTOMERS)
        + [f"credit_note.refunded#{k}" for k in range(1, CUSTOMERS + 1)],
    }
    return {kind: sorted(rng.sample(pool, KILLS_PER_KIND)) for kind, pool in pools.items()}


async def _progress() -> int:
    """Work done so far, any kind: chunks completed, deliveries recorded, webhook attempts recorded."""
    return (await models.JobChunk.exclude(done_at=None).count() + await models.Delivery.exclude(
        status="SENDING").count() + await models.WebhookDelivery.all().count())


async def _all_jobs_done() -> bool:
    return not await models.Job.filter(status__in=jobs.UNFINISHED).exists()


async def _webhooks_caught_up(endpoint_id: int) -> bool:
    from domain import events

    endpoint = await models.WebhookEndpoint.get(id=endpoint_id)
    return endpoint.cursor >= await events.last_cursor() and endpoint.lease_token is None


async def _under_way() -> list:
    """What is still under way: unfinished jobs, e-mails being sent, unsettled payments and refunds."""
    return [item for item in (
        await models.Job.filter(status__in=jobs.UNFINISHED).values_list("kind", "status", "progress_done",
                                                                         "progress_total"),
        await models.Delivery.filter(status="SENDING").values_list("invoice_id", "credit_note_id"),
        await models.Payment.filter(status__in=["PENDING", "UNKNOWN"]).values_list("id", "status"),
        await models.CreditNote.filter(refund_status__in=["PENDING", "UNKNOWN"]).values_list("id", "refund_status"),
    ) if item]


async def _settled() -> bool:
    return not await _under_way()


async def _wait(keeper: Keeper, check: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    """`waiting.until`, telling on failure what was under way, where the workers died and the last worker's log."""
    try:
        await waiting.until(check, what, within=within)
    except pytest.fail.Exception:
        pytest.fail(f"{what}: still under way {await _under_way()}; deaths {keeper.deaths}; unexpected "
                    f"{keeper.unexpected}; workers:\n{keeper.log}")
    else:
        print(f"{what}: done at {time.monotonic():.1f}, {len(keeper.deaths)} deaths")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0


async def test_a_billing_run_and_its_credit_notes_complete_exactly_through_seeded_worker_kills(
        admin: Api, smtp_server: Mailbox, tmp_path: Path) -> None:
    points = _seeded_points(random.Random(SEED))
    crash = Crash(tmp_path / "faults", [p for kind in points.values() for p in kind], WORKER_SETTINGS)
    accounts = await posting.company(admin)
    for n in range(CUSTOMERS):
        await posting.customer(admin, accounts, f"WC-{n:02}", "25.00", taxLocation="ZERO", autopayEnabled=True,
                               paymentMethodToken="tok_ok")
    with webhooks.receiver() as hook:
        endpoint_gid, _ = await webhooks.create_endpoint(admin, hook, eventTypes=WEBHOOK_TYPES)
        endpoint_id = posting.db_id(endpoint_gid)
        async with Keeper(crash, _progress) as keeper:
            # The billing run: processed, every billing approved, posted and sent (e-mail and auto-pay follow).
            batch = await billing.batch(admin, "Crash run")
            await admin.mutate("processBillingBatch", billing.PROCESS, {"id": batch})
            await _wait(keeper, _all_jobs_done, "processing and analysis through the kills", 300)
            await posting.approve_all(admin, batch)
            await admin.mutate("postBillingBatch", posting.POST, {"id": batch, "mode": "SEND"})
            await _wait(keeper, _settled, "posting, sending and auto-pay through the kills", 300)
            # A credit note of each (paid) invoice, wholly refunded: e-mailed and refunded by CREDIT_NOTE jobs.
            invoice_ids = await models.Invoice.filter(batch_id=posting.db_id(batch)).order_by("id").values_list(
                "id", flat=True)
            for invoice_id in invoice_ids:
                draft = await admin.mutate("createCreditNote", CREATE, {"input": {
                    "invoiceId": to_base64("Invoice", invoice_id), "reason": "PRODUCT_UNSATISFACTORY",
                    "creditDate": "2026-05-20", "wholeInvoice": True, "refundAmount": "25.00"}})
                await admin.mutate("issueCreditNote", ISSUE, {"id": draft["creditNote"]["id"]})
            await _wait(keeper, _settled, "credit notes e-mailed and refunded through the kills", 300)
            await _wait(keeper, lambda: _webhooks_caught_up(endpoint_id), "webhooks caught up", 120)
        deaths = keeper.deaths

    batch_id = posting.db_id(batch)
    fired = [d.point for d in deaths]
    kills = Counter(p.split(".", 1)[0] for p in fired)
    missing = sorted(set(crash.checkpoints) - set(fired))
    assert not missing, f"armed points never reached: {missing}"
    assert kills == {kind: KILLS_PER_KIND for kind in points}

    # Expected vs. found, per kind of item.
    invoiced = CUSTOMERS
    billings = await models.PeriodicBilling.filter(batch_id=batch_id).values_list("contract_id", "period_start")
    invoices = await models.Invoice.filter(batch_id=batch_id).values_list("billing_id", "number", "status")
    numbers = sorted(int(n.removeprefix("INV-")) for _, n, _ in invoices)
    # An e-mail is at most once: a worker that died while (or right after) sending leaves its delivery SENDING,
    # which the sweeper reports (FAILED, outcome unknown, a notification for a person) and never re-sends. So
    # an e-mail is lost only if it was neither received nor reported, duplicated if received twice.
    messages = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    unknown = await models.Delivery.filter(status="FAILED", error__icontains="outcome unknown").values_list(
        "id", "invoice_id", "credit_note_id")
    deliveries = await models.Delivery.filter(credit_note_id=None).values_list("invoice_id", "status", "error")
    sent_ids = {(i, c) for i, c in await models.Delivery.filter(status="SENT").values_list(
        "invoice_id", "credit_note_id")}
    reported = await models.Notification.filter(kind="DELIVERY_UNKNOWN").count()
    unknown_docs = {(i, c) for _, i, c in unknown}
    invoice_numbers = dict(await models.Invoice.all().values_list("id", "number"))
    note_numbers = dict(await models.CreditNote.all().values_list("id", "number"))

    def mails(key: tuple[int, int | None]) -> tuple[int, int]:
        """(1 if received or reported, copies received beyond the first) for one document."""
        invoice_id, note_id = key
        name = f"credit-note-{note_numbers[note_id]}@" if note_id else f"invoice-{invoice_numbers[invoice_id]}@"
        copies = sum(n for m, n in messages.items() if name in m)
        return int(copies > 0 or key in unknown_docs), max(0, copies - 1)

    invoice_docs = [mails((i, None)) for i in invoice_numbers]
    note_docs = [mails((n.invoice_id, n.id)) for n in await models.CreditNote.all()]
    payments = await models.Payment.all().values_list("invoice_id", "status")
    books = await models.SandboxCharge.all().values_list("idempotency_key", "amount", "calls")
    charges = [k for k, amount, _ in books if amount > 0]
    refunds = [k for k, amount, _ in books if amount < 0]
    notes = await models.CreditNote.all().values_list("id", "number", "refund_status")
    received = [r.webhook_id for r in hook.delivered()]
    produced_ids = {global_id("Event", pk) for pk in await models.Event.filter(
        id__gt=hook.since, type__in=WEBHOOK_TYPES).values_list("id", flat=True)}
    produced = len(produced_ids)
    found = {
        "billings": (invoiced, len(set(billings)), len(billings)),
        "invoices": (invoiced, len({b for b, _, _ in invoices}), len(invoices)),
        "invoice_emails": (invoiced, sum(d for d, _ in invoice_docs), sum(d + x for d, x in invoice_docs)),
        "charges": (invoiced, len(set(charges)), await models.Payment.filter(status="SUCCEEDED").count()),
        "credit_notes": (invoiced, len({n for _, n, _ in notes}), len(notes)),
        "credit_note_emails": (invoiced, sum(d for d, _ in note_docs), sum(d + x for d, x in note_docs)),
        "refunds": (invoiced, len(set(refunds)), await models.JournalEntry.exclude(refund_of_id=None).count()),
        "webhook_events": (produced, len(set(received)), len(set(received))),
    }
    lost = sum(expected - distinct for expected, distinct, _ in found.values())
    duplicated = sum(total - distinct for _, distinct, total in found.values())
    leaked = (await models.Job.filter(status__in=jobs.UNFINISHED).count()
              + await models.JobChunk.filter(done_at=None).count()
              + await models.Delivery.filter(status="SENDING").count()
              + await models.Payment.filter(status__in=["PENDING", "UNKNOWN"]).count()
              + await models.CreditNote.filter(refund_status__in=["PENDING", "UNKNOWN"]).count()
              + await models.WebhookEndpoint.exclude(lease_token=None).count())
    redeliveries = len(received) - len(set(received))
    mailed_kills = sum(p.startswith("send.mailed") for p in fired)
    recoveries = [d.recovery_seconds for d in deaths if d.recovery_seconds is not None]
    boots = keeper.boots
    record("worker_crash", {
        "seed": SEED, "kills": len(deaths), "kills_per_kind": dict(sorted(kills.items())), "points": fired,
        "expected_vs_found": {k: {"expected": e, "distinct": d, "total": t} for k, (e, d, t) in found.items()},
        "webhook_redeliveries": redeliveries, "webhook_requests": len(hook.requests),
        "emails_killed_after_sending": mailed_kills, "emails_reported_unknown": len(unknown),
        "emails_received": sum(messages.values()), "emails_sent_recorded": len(sent_ids),
        "heartbeat_timeout_ms": HEARTBEAT_MS,
        "recovery_seconds_p50": round(statistics.median(recoveries), 3) if recoveries else None,
        "recovery_seconds_max": round(max(recoveries), 3) if recoveries else None,
        "recovery_p50_over_heartbeat": round(statistics.median(recoveries) * 1000 / HEARTBEAT_MS, 2)
        if recoveries else None,
        "replacement_boot_seconds_p50": round(statistics.median(boots), 3) if boots else None,
        "replacement_boot_seconds_max": round(max(boots), 3) if boots else None,
    }, lost=lost, duplicated=duplicated, leaked=leaked, held=[
        "one billing per contract period, one invoice per billing with gap-free numbers",
        "one e-mail per invoice and per credit note (an e-mail whose worker died after sending is reported, not "
        "re-sent)",
        "one sandbox charge per invoice and one refund per credit note, each journaled once",
        "every event's webhook id received at least once; the extra arrivals are the documented redeliveries",
        "no job, chunk, delivery, payment, refund or webhook lease left open",
    ])
    assert (lost, duplicated, leaked) == (0, 0, 0), found
    assert not keeper.unexpected, keeper.unexpected
    assert keeper.exits == len(deaths)  # every worker that died, died at an armed point

    # The details behind the counts.
    assert numbers == list(range(1, invoiced + 1))
    assert (await models.BillingBatch.get(id=batch_id)).status == "POSTED"
    kinds = Counter(await models.Job.filter(batch_id=batch_id).values_list("kind", flat=True))
    assert kinds == {"PROCESS": 1, "ANALYZE": 1, "POST": 1, "SEND": 1, "AUTO_PAY": 1, "CREDIT_NOTE": invoiced}
    assert not await models.Job.exclude(status=JobStatus.SUCCEEDED).exists()
    assert len(payments) == len({i for i, _ in payments}) == invoiced
    assert {s for _, s in payments} == {PaymentStatus.SUCCEEDED}
    assert await models.JournalEntry.filter(batch_id=batch_id).exclude(payment_id=None).count() == invoiced
    assert {s for _, _, s in notes} == {"SUCCEEDED"}
    # An e-mail whose worker died after the SMTP server took it: FAILED, outcome unknown, never sent again.
    # (a worker killed elsewhere may have had another thread mid-send: those are reported the same way).
    assert len(deliveries) == invoiced and len(unknown) >= mailed_kills and reported == len(unknown)
    assert len(sent_ids) + len(unknown) == 2 * invoiced
    assert set(received) == produced_ids  # each event's id, and nothing else, at least once
