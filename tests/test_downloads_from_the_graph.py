"""Every download is reachable from the graph by a URL field, with the same bearer token and the same scope as
the record it belongs to; no server path is shown. A file of a hidden record answers 404, like an absent one."""

import email
import email.policy
from collections.abc import Iterator

import pytest
from strawberry.relay import to_base64

from billrun import downloads
from billrun.settings import reset_settings
from tests.conftest import make_token
from tests.support import posting
from tests.support.api import Api
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.usefixtures("worker")

URLS = """query($id: ID!) { billingBatch(id: $id) { billingDetailsCsvUrl
  periodicBillings { nodes { id billingDetailsCsvUrl serviceCustomer { number } } }
  invoices { nodes { id number pdfUrl account { number }
    deliveries { channel status recipient downloadUrl } } } } }"""
RESEND = """mutation($id: ID!, $to: String) { resendInvoice(input: {invoiceId: $id, recipient: $to}) {
  delivery { channel status recipient downloadUrl } errors { code field } } }"""


@pytest.fixture
def without_smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process sends e-mail as the embedded default does: into the outbox folder (the worker still uses
    the test SMTP server)."""
    monkeypatch.delenv("BILLRUN_SMTP_URL", raising=False)
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


async def _posted(admin: Api, client) -> tuple[str, Api, Api]:
    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "OPEN-1", "100.00", taxLocation="ZERO")
    secret = await posting.customer(admin, accounts, "SECRET-1", "70.00", taxLocation="ZERO",
                                    billingEmail="bounce-secret@example.com")
    granted_user, granted_token = await make_token("granted@example.com", ["BILLING_ACCESS", "BILLING_SEND_EXPORT"])
    _, other_token = await make_token("other@example.com", ["BILLING_ACCESS", "BILLING_SEND_EXPORT"])
    await admin.mutate("restrictAccount", """mutation($input: RestrictAccountInput!) { restrictAccount(input:
      $input) { account { id } errors { code } } }""", {"input": {
        "accountId": secret, "restricted": True, "userIds": [to_base64("User", granted_user.id)]}})
    batch = await posting.processed(admin)
    await posting.approve_all(admin, batch)
    await posting.post(admin, batch, "SEND")
    return batch, Api(client, granted_token), Api(client, other_token)


def _auth(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token}"}


async def test_csv_and_pdf_urls_serve_what_the_viewer_may_see(admin: Api, client, smtp_server: Mailbox) -> None:
    batch, granted, other = await _posted(admin, client)
    mine = (await other.ok(URLS, {"id": batch}))["billingBatch"]
    full = (await granted.ok(URLS, {"id": batch}))["billingBatch"]
    assert mine["billingDetailsCsvUrl"] == full["billingDetailsCsvUrl"]
    assert mine["billingDetailsCsvUrl"].startswith(downloads.BILLING_DETAILS_CSV + "?batchId=")

    # The batch's CSV holds the lines the viewer may see.
    partial = await client.get(mine["billingDetailsCsvUrl"], headers=_auth(other))
    whole = await client.get(full["billingDetailsCsvUrl"], headers=_auth(granted))
    assert partial.status_code == whole.status_code == 200
    assert "OPEN-1" in partial.text and "SECRET-1" not in partial.text and "SECRET-1" in whole.text
    assert (await client.get(mine["billingDetailsCsvUrl"])).status_code == 401

    # A billing's CSV and an invoice's PDF: the viewer's own through their URL; a hidden one's URL is a 404.
    [visible_billing] = mine["periodicBillings"]["nodes"]
    response = await client.get(visible_billing["billingDetailsCsvUrl"], headers=_auth(other))
    assert response.status_code == 200 and "OPEN-1" in response.text
    [secret_billing] = [b for b in full["periodicBillings"]["nodes"] if b["serviceCustomer"]["number"] == "SECRET-1"]
    [secret_invoice] = [i for i in full["invoices"]["nodes"] if i["account"]["number"] == "SECRET-1"]
    [open_invoice] = mine["invoices"]["nodes"]
    pdf = await client.get(open_invoice["pdfUrl"], headers=_auth(other))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    for url in (secret_billing["billingDetailsCsvUrl"], secret_invoice["pdfUrl"]):
        assert (await client.get(url, headers=_auth(other))).status_code == 404
        assert (await client.get(url, headers=_auth(granted))).status_code == 200

    # SMTP deliveries and failed ones have nothing to download.
    assert [d["downloadUrl"] for d in open_invoice["deliveries"]] == [None]
    assert [(d["status"], d["downloadUrl"]) for d in secret_invoice["deliveries"]] == [("FAILED", None)]


async def test_outbox_delivery_downloads_as_the_eml_sent(admin: Api, client, smtp_server: Mailbox,
                                                         without_smtp: None) -> None:
    batch, granted, other = await _posted(admin, client)
    full = (await granted.ok(URLS, {"id": batch}))["billingBatch"]
    [secret_invoice] = [i for i in full["invoices"]["nodes"] if i["account"]["number"] == "SECRET-1"]
    sent = (await granted.mutate("resendInvoice", RESEND, {"id": secret_invoice["id"],
                                                            "to": "ap@secret.example"}))["delivery"]
    assert (sent["channel"], sent["status"], sent["recipient"]) == ("OUTBOX_FILE", "SENT", "ap@secret.example")
    assert sent["downloadUrl"].startswith("/deliveries/") and sent["downloadUrl"].endswith(".eml")

    response = await client.get(sent["downloadUrl"], headers=_auth(granted))
    assert response.status_code == 200 and response.headers["content-type"].startswith("message/rfc822")
    message = email.message_from_bytes(response.content, policy=email.policy.default)
    assert message["To"] == "ap@secret.example" and secret_invoice["number"] in message["Subject"]
    assert any(part.get_content_type() == "application/pdf" for part in message.iter_attachments())
    assert (await client.get(sent["downloadUrl"], headers=_auth(admin))).status_code == 200

    # Hidden like the invoice: the other user gets a 404, as for a delivery that does not exist.
    assert (await client.get(sent["downloadUrl"], headers=_auth(other))).status_code == 404
    absent = downloads.DELIVERED_MESSAGE.format(delivery_id=to_base64("Delivery", 999999))
    assert (await client.get(absent, headers=_auth(granted))).status_code == 404
    assert (await client.get(sent["downloadUrl"])).status_code == 401
    invoices = (await granted.ok(URLS, {"id": batch}))["billingBatch"]["invoices"]["nodes"]
    deliveries = next(i["deliveries"] for i in invoices if i["id"] == secret_invoice["id"])
    assert [d["status"] for d in deliveries] == ["FAILED", "SENT"]
