"""Auto-pay through the sandbox gateway, notifications and completion."""

from decimal import Decimal

import pytest

import models
from tests.support import posting, waiting
from tests.support.api import Api
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.usefixtures("worker")

TOKENS = ("tok_ok", "tok_decline", "tok_error", "tok_timeout")


async def _settled(api: Api, batch: str, within: float = 60) -> dict[str, dict]:
    """Wait until no payment of the batch is PENDING or UNKNOWN; returns invoices by account number."""
    async def settled() -> dict[str, dict] | None:
        nodes = (await api.ok(posting.INVOICES, {"id": batch}))["billingBatch"]["invoices"]["nodes"]
        if all(p["status"] not in ("PENDING", "UNKNOWN") for n in nodes for p in n["payments"]):
            return {n["account"]["number"]: n for n in nodes}
        return None

    found: dict[str, dict] = await waiting.until(settled, f"no payment of batch {batch} PENDING or UNKNOWN", within,
                                                 every=0.2)
    return found


async def test_sandbox_tokens_decline_blocks_completion_until_resolved(admin: Api, smtp_server: Mailbox) -> None:
    accounts = await posting.company(admin)
    for token in TOKENS:
        await posting.customer(admin, accounts, token.upper(), "50.00", taxLocation="ZERO", autopayEnabled=True,
                               paymentMethodToken=token)
    await posting.customer(admin, accounts, "NO-AUTOPAY", "20.00", taxLocation="ZERO")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    invoices = await _settled(admin, batch)

    ok, declined = invoices["TOK_OK"], invoices["TOK_DECLINE"]
    assert ok["status"] == "PAID" and ok["amountPaid"] == "50.00" and ok["amountDue"] == "0.00"
    assert [p["status"] for p in ok["payments"]] == ["SUCCEEDED"]
    assert ok["payments"][0]["idempotencyKey"].startswith("autopay-invoice-")
    assert declined["status"] == "OPEN" and declined["payments"][0]["status"] == "DECLINED"
    assert declined["payments"][0]["error"] == "card declined"
    # tok_error fails transiently twice: retried with backoff, charged on the third call.
    assert invoices["TOK_ERROR"]["payments"][0] | {"gatewayReference": None} == {
        "status": "SUCCEEDED", "attempts": 3, "idempotencyKey": invoices["TOK_ERROR"]["payments"][0][
            "idempotencyKey"], "gatewayReference": None, "error": None}
    # tok_timeout: charged, the answer lost (UNKNOWN), settled by the sweeper asking the gateway: charged once.
    timeout = invoices["TOK_TIMEOUT"]
    assert timeout["status"] == "PAID" and timeout["payments"][0]["attempts"] == 1
    charges = await models.SandboxCharge.filter(token="tok_timeout").values_list("status", "calls")
    assert charges == [("SUCCEEDED", 1)]
    assert invoices["NO-AUTOPAY"]["payments"] == []
    # Dr cash / Cr receivables for each success.
    receipts = [e for e in ok["journalEntry"] and (await admin.ok("""query($id: ID!) { invoice(id: $id) {
      journalEntries { memo lines { debit credit ledgerAccount { code } } } } }""", {"id": ok["id"]}))[
        "invoice"]["journalEntries"] if e["memo"].startswith("Auto-pay")]
    assert {(ln["ledgerAccount"]["code"], ln["debit"], ln["credit"]) for ln in receipts[0]["lines"]} == {
        ("1000", "50.00", "0.00"), ("1200", "0.00", "50.00")}

    found = (await admin.ok(posting.BATCH, {"id": batch}))["billingBatch"]
    summary = found["summary"]
    assert Decimal(summary["totalAmountDue"]) == Decimal("220.00")
    assert Decimal(summary["amountPaid"]) == Decimal("150.00")
    assert Decimal(summary["amountAwaitingPayment"]) == Decimal("70.00")
    [notification] = [n for n in found["notifications"] if n["status"] == "OPEN"]
    assert notification["kind"] == "PAYMENT_DECLINED" and declined["number"] in notification["message"]
    assert found["completion"]["ready"] is False
    assert [b["kind"] for b in found["completion"]["blockers"]] == ["OPEN_NOTIFICATION"]
    assert found["completion"]["blockers"][0]["subjectId"] == notification["id"]

    refused = (await admin.ok(posting.COMPLETE, {"id": batch}))["completeBillingBatch"]
    assert [e["code"] for e in refused["errors"]] == ["NOT_READY"] and refused["billingBatch"] is None
    empty_note = (await admin.ok(posting.RESOLVE, {"id": notification["id"], "note": " "}))["resolveNotification"]
    assert [e["code"] for e in empty_note["errors"]] == ["INVALID_INPUT"]
    resolved = await admin.mutate("resolveNotification", posting.RESOLVE, {
        "id": notification["id"], "note": "Customer will pay by bank transfer"})
    assert resolved["notification"]["status"] == "RESOLVED"
    assert resolved["notification"]["resolvedBy"]["email"] == "admin@example.com"
    # The customer puts a working card on file: the declined invoice is charged again, with a new key.
    retry = """mutation($id: ID!) { retryPayment(input: {invoiceId: $id}) { payment { status idempotencyKey }
      errors { code } } }"""
    assert [e["code"] for e in (await admin.ok(retry, {"id": ok["id"]}))["retryPayment"]["errors"]] == [
        "INVALID_STATUS"]  # paid already
    account = (await admin.ok("""query($id: ID!) { invoice(id: $id) { account { id } } }""", {"id": declined["id"]})
               )["invoice"]["account"]["id"]
    await admin.mutate("updateAccount", """mutation($id: ID!) { updateAccount(input: {id: $id,
      paymentMethodToken: "tok_ok"}) { account { id } errors { code } } }""", {"id": account})
    queued = await admin.mutate("retryPayment", retry, {"id": declined["id"]})
    assert queued["payment"]["status"] == "PENDING" and queued["payment"]["idempotencyKey"].endswith("-2")
    await posting.follow_ups_done(admin, batch)
    paid = (await _settled(admin, batch))["TOK_DECLINE"]
    assert paid["status"] == "PAID" and [p["status"] for p in paid["payments"]] == ["DECLINED", "SUCCEEDED"]
    completed = await admin.mutate("completeBillingBatch", posting.COMPLETE, {"id": batch})
    assert completed["billingBatch"]["status"] == "COMPLETED" and completed["billingBatch"]["completedAt"]
    again = (await admin.ok(posting.COMPLETE, {"id": batch}))["completeBillingBatch"]
    assert [e["code"] for e in again["errors"]] == ["NOT_READY"]


async def test_failed_delivery_opens_a_notification(admin: Api, smtp_server: Mailbox) -> None:
    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "GOOD", taxLocation="ZERO")
    await posting.customer(admin, accounts, "BOUNCES", taxLocation="ZERO", billingEmail="bounce@example.com")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    found = await posting.follow_ups_done(admin, batch)
    assert [n["kind"] for n in found["notifications"]] == ["DELIVERY_FAILED"]
    assert "bounce@example.com" in found["notifications"][0]["message"]
    assert [b["kind"] for b in found["completion"]["blockers"]] == ["OPEN_NOTIFICATION"]
    invoices = {n["account"]["number"]: n for n in
                (await admin.ok(posting.INVOICES, {"id": batch}))["billingBatch"]["invoices"]["nodes"]}
    assert invoices["BOUNCES"]["deliveries"][0]["status"] == "FAILED"
    assert invoices["GOOD"]["deliveries"][0]["status"] == "SENT" and len(smtp_server.to("good@example.com")) == 1

    # The clerk gets the right address and sends the invoice again; a sent invoice is not sent twice.
    resend = """mutation($id: ID!, $to: String) { resendInvoice(input: {invoiceId: $id, recipient: $to}) {
      delivery { status recipient channel } errors { code field } } }"""
    bad = (await admin.ok(resend, {"id": invoices["BOUNCES"]["id"], "to": "not an address"}))["resendInvoice"]
    assert bad["errors"] == [{"code": "INVALID_INPUT", "field": "recipient"}]
    again = await admin.mutate("resendInvoice", resend, {"id": invoices["BOUNCES"]["id"], "to": "ap@example.com"})
    assert again["delivery"] == {"status": "SENT", "recipient": "ap@example.com", "channel": "SMTP"}
    [message] = smtp_server.to("ap@example.com")
    assert invoices["BOUNCES"]["number"] in message["Subject"]
    twice = (await admin.ok(resend, {"id": invoices["BOUNCES"]["id"], "to": None}))["resendInvoice"]
    assert twice["errors"] == [{"code": "INVALID_STATUS", "field": "invoiceId"}]


async def test_payment_retries_give_up_with_a_notification(admin: Api, smtp_server: Mailbox) -> None:
    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "HARD", "30.00", taxLocation="ZERO", autopayEnabled=True,
                           paymentMethodToken="tok_error_hard")
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "EXPORT")
    invoices = await _settled(admin, batch)
    payment = invoices["HARD"]["payments"][0]
    assert payment["status"] == "FAILED" and payment["attempts"] == 4  # BILLRUN_PAYMENT_MAX_ATTEMPTS
    found = await posting.follow_ups_done(admin, batch)
    assert [n["kind"] for n in found["notifications"]] == ["PAYMENT_FAILED"]
    assert await models.SandboxCharge.filter(status="SUCCEEDED").count() == 0


async def test_notifications_about_hidden_accounts_stay_hidden(admin: Api, client, smtp_server: Mailbox) -> None:
    from strawberry.relay import to_base64

    from tests.conftest import make_token

    accounts = await posting.company(admin)
    hidden = await posting.customer(admin, accounts, "SECRET", "40.00", taxLocation="ZERO", autopayEnabled=True,
                                    paymentMethodToken="tok_decline")
    granted, granted_token = await make_token("granted@example.com", ["BILLING_ACCESS", "BILLING_SEND_EXPORT"])
    _, other_token = await make_token("other@example.com", ["BILLING_ACCESS", "BILLING_SEND_EXPORT"])
    await admin.mutate("restrictAccount", """mutation($input: RestrictAccountInput!) { restrictAccount(input:
      $input) { account { id } errors { code } } }""", {"input": {
        "accountId": hidden, "restricted": True, "userIds": [to_base64("User", granted.id)]}})
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    other, insider = Api(client, other_token), Api(client, granted_token)

    seen = (await other.ok(posting.BATCH, {"id": batch}))["billingBatch"]
    assert seen["notifications"] == []
    assert seen["completion"] == {"ready": False, "blockers": [{
        "kind": "OPEN_NOTIFICATION", "message": "1 open notification(s) about accounts hidden from you.",
        "subjectId": None}]}
    assert (await other.ok("{ notifications { totalCount } }"))["notifications"]["totalCount"] == 0
    refused = (await other.ok(posting.COMPLETE, {"id": batch}))["completeBillingBatch"]
    assert [e["code"] for e in refused["errors"]] == ["NOT_READY"]

    [note] = (await insider.ok(posting.BATCH, {"id": batch}))["billingBatch"]["notifications"]
    assert note["kind"] == "PAYMENT_DECLINED"
    assert (await other.ok(posting.RESOLVE, {"id": note["id"], "note": "x"}))["resolveNotification"]["errors"][0][
        "code"] == "NOT_FOUND"
    await insider.mutate("resolveNotification", posting.RESOLVE, {"id": note["id"], "note": "Card replaced"})
    assert (await other.ok(posting.BATCH, {"id": batch}))["billingBatch"]["completion"]["ready"] is True
