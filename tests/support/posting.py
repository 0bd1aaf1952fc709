"""Posting helpers for tests: a company with a full chart, approved batches, posting and waiting."""

from strawberry.relay import from_base64

from tests.support import billing, builders, waiting
from tests.support.api import Api

MASS = """mutation($batch: ID!, $status: BillingStatus!, $filter: PeriodicBillingFilter) { massUpdateBillingStatus(
  input: {batchId: $batch, status: $status, filter: $filter}) { changedCount refusedCount errors { code } } }"""
POST = """mutation($id: ID!, $mode: PostMode!) { postBillingBatch(input: {batchId: $id, mode: $mode}) {
  job { id kind status } errors { code field message } } }"""
COMPLETE = """mutation($id: ID!) { completeBillingBatch(input: {batchId: $id}) {
  billingBatch { id status completedAt } errors { code field message } } }"""
RESOLVE = """mutation($id: ID!, $note: String!) { resolveNotification(input: {id: $id, note: $note}) {
  notification { id status resolutionNote resolvedBy { email } } errors { code field message } } }"""
EXPORT = """mutation($id: ID!, $format: ExportFormat!) { exportBillingBatch(input: {batchId: $id, format: $format}) {
  export { id format filename sha256 size downloadUrl } errors { code field message } } }"""
BATCH = """query($id: ID!) { billingBatch(id: $id) { id status postMode postedAt completedAt
  summary { invoiceCount totalAmountDue amountAwaitingPayment amountPaid hiddenInvoiceCount billingCount }
  jobs { id kind status progressDone progressTotal error }
  notifications { id kind status message }
  exports { id format filename sha256 size downloadUrl }
  completion { ready blockers { kind message subjectId } } } }"""
INVOICES = """query($id: ID!, $first: Int) { billingBatch(id: $id) { invoices(first: $first) { totalCount nodes {
  id number invoiceDate dueDate amount taxAmount amountPaid amountDue status currency pdfUrl
  account { number } billing { id billingStatus externalComment }
  journalEntry { entryDate memo total lines { debit credit memo ledgerAccount { code kind } } }
  payments { status attempts idempotencyKey gatewayReference error }
  deliveries { channel recipient status messageId downloadUrl error } } } } }"""


async def company(admin: Api, month: str = "2026-05-01") -> dict[str, str]:
    """`billing.books` plus receivables (1200) and cash (1000): everything posting writes to."""
    return {**await billing.books(admin, month), **await receivable_and_cash(admin)}


async def receivable_and_cash(admin: Api) -> dict[str, str]:
    """Receivables (1200) and cash (1000), the accounts posting needs besides revenue and tax."""
    accounts = {}
    for code, name, kind in (("1200", "Accounts receivable", "RECEIVABLE"), ("1000", "Bank", "CASH")):
        payload = await admin.mutate("createLedgerAccount", builders.CREATE_LEDGER, {"input": {
            "code": code, "name": name, "kind": kind}})
        accounts[kind.lower()] = payload["ledgerAccount"]["id"]
    return accounts


async def customer(admin: Api, accounts: dict[str, str], number: str, price: str = "100.00",
                   start: str = "2026-05-01", **fields: object) -> str:
    """An account with one monthly contract of one charge; returns the account's id."""
    account = await builders.account(admin, number, **fields)
    contract = await builders.contract(admin, account, f"SC-{number}", start=start)
    await builders.charge(admin, contract, price, accounts["revenue"])
    return account


async def processed(admin: Api, name: str = "May run", **fields: object) -> str:
    batch = await billing.batch(admin, name, **fields)
    await billing.process(admin, batch)
    return batch


async def approve_all(admin: Api, batch: str) -> None:
    payload = await admin.mutate("massUpdateBillingStatus", MASS, {"batch": batch, "status": "APPROVED"})
    assert payload["refusedCount"] == 0


async def post(api: Api, batch: str, mode: str = "SEND", within: float = 90) -> dict:
    """Post and wait for the posting job and its follow-ups (sending, export, auto-pay), so no work of this
    test is still running when the next one starts."""
    payload = await api.mutate("postBillingBatch", POST, {"id": batch, "mode": mode})
    job = await billing.wait_for_job(api, payload["job"]["id"], within=within)
    assert job["status"] == "SUCCEEDED", job
    await follow_ups_done(api, batch, within=within)
    return job


async def follow_ups_done(api: Api, batch: str, within: float = 60) -> dict:
    """Wait until every job of the batch (sending, export, auto-pay) has finished; returns the batch."""
    async def finished() -> dict | None:
        found = (await api.ok(BATCH, {"id": batch}))["billingBatch"]
        return found if all(j["status"] in ("SUCCEEDED", "FAILED") for j in found["jobs"]) else None

    done: dict = await waiting.until(finished, f"every follow-up job of batch {batch} to finish", within, every=0.1)
    return done


def db_id(gid: str) -> int:
    return int(from_base64(gid)[1])
