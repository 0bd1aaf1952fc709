"""Payment gateway faults (reliability section `gateway_faults`): auto-pay of one posted batch whose accounts'
payment methods make the sandbox gateway (`domain.gateway`) decline, fail transiently (twice, then succeed),
fail transiently for good, take the charge and lose the answer (a timeout), or take it and answer twice.

What must hold, counted in the sandbox's own books (`sandbox_charge`, the provider's side) against billrun's
payments: at most one charge per invoice (exactly one where the outcome is a success), every charge taken is a
SUCCEEDED payment paying its invoice once and journaled once, whatever the retries, redeliveries and duplicated
answers; the charges whose answer was lost are settled by the sweeper asking the gateway; nothing is left
PENDING or UNKNOWN.
"""

import time
from collections import Counter
from decimal import Decimal

import pytest

import models
from domain import jobs
from tests.reliability.results import record
from tests.support import posting, waiting
from tests.support.api import Api

pytestmark = pytest.mark.usefixtures("worker")

PER_TOKEN = 3
# token -> (final payment status, gateway calls for its key)
OUTCOMES = {"tok_ok": ("SUCCEEDED", 1), "tok_decline": ("DECLINED", 1), "tok_error": ("SUCCEEDED", 3),
            "tok_error_hard": ("FAILED", 4), "tok_timeout": ("SUCCEEDED", 1), "tok_duplicate": ("SUCCEEDED", 1)}


async def _settled() -> bool:
    return not (await models.Payment.filter(status__in=["PENDING", "UNKNOWN"]).exists()
                or await models.Job.filter(status__in=jobs.UNFINISHED).exists())


async def test_one_charge_per_invoice_whatever_the_gateway_answers(admin: Api) -> None:
    accounts = await posting.company(admin)
    for token in OUTCOMES:
        for n in range(PER_TOKEN):
            await posting.customer(admin, accounts, f"{token.removeprefix('tok_').upper()}-{n}", "30.00",
                                   taxLocation="ZERO", autopayEnabled=True, paymentMethodToken=token)
    batch = await posting.processed(admin, "Gateway run")
    await posting.approve_all(admin, batch)
    started = time.monotonic()
    await admin.mutate("postBillingBatch", posting.POST, {"id": batch, "mode": "EXPORT"})
    await waiting.until(_settled, "every payment settled", within=60)
    settled_in = time.monotonic() - started

    rows = await models.Payment.all().select_related("invoice__account")
    books = {r.idempotency_key: r for r in await models.SandboxCharge.all()}
    by_token: dict[str, Counter[str]] = {}
    lost = duplicated = 0
    for payment in rows:
        token = payment.invoice.account.payment_method_token or ""
        expected_status, expected_calls = OUTCOMES[token]
        by_token.setdefault(token, Counter())[payment.status.value] += 1
        charge = books.get(payment.idempotency_key)
        assert charge is not None and charge.calls == expected_calls, (token, charge and charge.calls)
        assert payment.status.value == expected_status, (token, payment.status, payment.error)
        invoice = payment.invoice
        paid_expected = invoice.amount if expected_status == "SUCCEEDED" else Decimal("0.00")
        duplicated += invoice.amount_paid > paid_expected  # an answer recorded twice would pay it twice
        lost += invoice.amount_paid < paid_expected
    invoices = await models.Invoice.all().count()
    payments_per_invoice = Counter(p.invoice_id for p in rows)
    charges_per_invoice = Counter(p.invoice_id for p in rows if p.idempotency_key in books)
    receipts = Counter(await models.JournalEntry.exclude(payment_id=None).values_list("payment_id", flat=True))
    succeeded = [p for p in rows if p.status.value == "SUCCEEDED"]
    taken = [c for c in books.values() if c.status.value == "SUCCEEDED"]
    duplicated += (sum(n - 1 for n in payments_per_invoice.values()) + sum(n - 1 for n in charges_per_invoice.values())
                   + sum(n - 1 for n in receipts.values()))
    lost += (invoices - len(payments_per_invoice)) + len(taken) - len(succeeded) + len(succeeded) - len(receipts)
    leaked = (await models.Payment.filter(status__in=["PENDING", "UNKNOWN"]).count()
              + await models.JobChunk.filter(done_at=None).count())
    notifications = Counter(await models.Notification.filter(kind__startswith="PAYMENT").values_list("kind", flat=True))
    record("gateway_faults", {
        "invoices": invoices, "payments": len(rows), "sandbox_charges": len(books),
        "charges_taken": len(taken), "payments_succeeded": len(succeeded), "receipts_journaled": len(receipts),
        "amount_taken": str(sum((c.amount for c in taken), Decimal("0.00"))),
        "amount_paid": str(sum((p.amount for p in succeeded), Decimal("0.00"))),
        "outcomes_by_token": {t: dict(c) for t, c in sorted(by_token.items())},
        "gateway_calls": sum(c.calls for c in books.values()),
        "timeouts_settled_by_sweeper": by_token["tok_timeout"]["SUCCEEDED"],
        "duplicated_answers_recorded_once": by_token["tok_duplicate"]["SUCCEEDED"],
        "notifications": dict(notifications), "seconds_to_settle_all": round(settled_in, 2),
    }, lost=lost, duplicated=duplicated, leaked=leaked, held=[
        "one payment and at most one sandbox charge per invoice; every charge taken is one SUCCEEDED payment",
        "a transient error is retried with the same key (charged once); a hard one FAILS after the attempts",
        "a lost answer (timeout) is settled by the sweeper's lookup, never charged anew",
        "a duplicated answer is recorded once: the invoice is paid once and journaled once",
    ])
    assert (lost, duplicated, leaked) == (0, 0, 0)
    assert len(taken) == len(succeeded) == len(receipts) == 4 * PER_TOKEN
    assert notifications == {"PAYMENT_DECLINED": PER_TOKEN, "PAYMENT_FAILED": PER_TOKEN}
