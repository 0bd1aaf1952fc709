"""Billing-run helpers for tests: a small company, batches, and waiting for background jobs."""


from strawberry.relay import from_base64

import models
from tests.support import builders, waiting
from tests.support.api import Api

CREATE_BATCH = """mutation($input: CreateBillingBatchInput!) { createBillingBatch(input: $input) {
  billingBatch { id code name status invoiceDate asOfDate billGroup division } errors { code field message } } }"""
ANALYZE = """mutation($id: ID!) { analyzeBillingBatch(input: {batchId: $id}) {
  findings { id kind severity resolvedAt subjectType subjectId }
  preview { billingCount amount rejectedCount accounts { billingCount amount account { number } } }
  errors { code field message } } }"""
PROCESS = """mutation($id: ID!) { processBillingBatch(input: {batchId: $id}) {
  job { id kind status } errors { code field message } } }"""
REVERSE = """mutation($id: ID!) { reverseBillingBatch(input: {batchId: $id}) {
  job { id kind status } errors { code field message } } }"""
JOB = "query($id: ID!) { job(id: $id) { status progressDone progressTotal error } }"
BATCH = """query($id: ID!) { billingBatch(id: $id) { status processedAt
  summary { billingCount totalAmount hiddenBillingCount billingCounts { status count } } } }"""
# A line's whole typed trace, every field and link.
TRACE = """trace { priceSource why period { start end } billed { start end } daysBilled daysInPeriod unitPrice
  quantity formula taxRate taxLocation taxBase priceRecord { __typename ... on Node { id } }
  distribution { amount percent revenueAccount { id code } } }"""
BILLINGS = """query($id: ID!, $first: Int) { billingBatch(id: $id) { periodicBillings(first: $first,
    orderBy: {field: BILLING_STARTING_DATE}) { totalCount nodes { id billingStartingDate billingEndingDate
    periodicBillingAmount billingStatus salesContract { number } serviceCustomer { number }
    details { kind description billingAmount daysBilled daysInPeriod priceSource datedPrice { periodicPrice }
      trace { priceSource why formula } distributions { amount revenueAccount { code } } }
    previousBilling { periodicBillingAmount } change { amount percent } findings { kind severity } } } } }"""


async def books(admin: Api, month: str = "2026-05-01") -> dict[str, str]:
    """Revenue and tax accounts, a zero-rate and an 8.25 % tax location, and an open period."""
    revenue = await builders.revenue_account(admin)
    tax = (await admin.mutate("createLedgerAccount", builders.CREATE_LEDGER, {"input": {
        "code": "2200", "name": "Sales tax payable", "kind": "TAX_PAYABLE"}}))["ledgerAccount"]["id"]
    for location, rate in (("ZERO", "0"), ("TX-AUSTIN", "0.0825")):
        await admin.mutate("createTaxRate", builders.CREATE_TAX, {"input": {
            "location": location, "name": location, "rate": rate, "ledgerAccountId": tax}})
    await admin.mutate("createAccountingPeriod", """mutation($m: Date!) { createAccountingPeriod(input:
      {month: $m}) { accountingPeriod { id } errors { code } } }""", {"m": month})
    return {"revenue": revenue, "tax": tax}


async def batch(api: Api, name: str = "May run", invoice_date: str = "2026-05-01", **fields: object) -> str:
    payload = await api.mutate("createBillingBatch", CREATE_BATCH, {"input": {
        "name": name, "invoiceDate": invoice_date, **fields}})
    return payload["billingBatch"]["id"]


async def wait_for_job(api: Api, job_id: str, within: float = 90.0) -> dict:
    """Until the job has finished (SUCCEEDED or FAILED); returns it."""
    async def finished() -> dict | None:
        job = (await api.ok(JOB, {"id": job_id}))["job"]
        return job if job["status"] in ("SUCCEEDED", "FAILED") else None

    found: dict = await waiting.until(finished, f"job {job_id} to finish", within, every=0.1)
    return found


async def process(api: Api, batch_id: str) -> dict:
    """Process a batch and wait for its job, and for the analysis it queues (so no work of this test is still
    running when the next one empties the tables); returns the finished processing job."""
    payload = await api.mutate("processBillingBatch", PROCESS, {"id": batch_id})
    job = await wait_for_job(api, payload["job"]["id"])
    assert job["status"] == "SUCCEEDED", job
    await jobs_done(api, batch_id)
    return job


async def jobs_done(api: Api, batch_id: str, within: float = 90.0) -> None:
    """Until every job of the batch has finished."""
    async def finished() -> bool:
        found = (await api.ok("query($id: ID!) { billingBatch(id: $id) { jobs { status } } }", {"id": batch_id}))
        return all(j["status"] in ("SUCCEEDED", "FAILED") for j in found["billingBatch"]["jobs"])

    await waiting.until(finished, f"every job of batch {batch_id} to finish", within)


async def billings(api: Api, batch_id: str, first: int = 50) -> list[dict]:
    return (await api.ok(BILLINGS, {"id": batch_id, "first": first}))["billingBatch"]["periodicBillings"]["nodes"]


async def vector_contract(admin: Api, accounts: dict[str, str], number: str = "V-1") -> str:
    """The reference pricing vector: monthly from 2026-01-01, A=20, B=100, dated prices for months 2, 3 and 5+."""
    account = await builders.account(admin, number, taxLocation="ZERO")
    contract = await builders.contract(admin, account, f"SC-{number}", start="2026-01-01")
    a = await builders.charge(admin, contract, "20.00", accounts["revenue"], "A")
    b = await builders.charge(admin, contract, "100.00", accounts["revenue"], "B")
    for first, last, pa, pb in (("2026-02-01", "2026-02-28", "30.00", "200.00"),
                                ("2026-03-01", "2026-03-31", "40.00", "300.00"),
                                ("2026-05-01", None, "50.00", "400.00")):
        await builders.dated_price(admin, a, first, last, pa)
        await builders.dated_price(admin, b, first, last, pb)
    return contract


async def unwritable_contract(admin: Api, accounts: dict[str, str]) -> str:
    """Legacy data no NUMERIC(14,2) line can hold (a charge of 999,999,999,999.99, quantity 1000): the database refuses
    its billing's write on every delivery, so processing a batch with it fails. Returns the contract's id."""
    huge = await builders.contract(admin, await builders.account(admin, "HUGE-1", taxLocation="ZERO"), "SC-HUGE",
                                   start="2026-05-01")
    charge = await builders.charge(admin, huge, "999999999999.99", accounts["revenue"])
    await admin.mutate("updateRecurringCharge", """mutation($id: ID!) { updateRecurringCharge(input: {id: $id,
      quantity: "1000"}) { recurringCharge { id } errors { code } } }""", {"id": charge})
    return huge


async def bulk_contracts(admin: Api, count: int) -> None:
    """`count` monthly contracts from 2026-03-01 at 25.00, on a zero-tax location."""
    accounts = await books(admin)
    # Through the API for a few, then the same shape in bulk for speed.
    template = await builders.account(admin, "K-0000", taxLocation="ZERO")
    contract = await builders.contract(admin, template, "SC-K-0000", start="2026-03-01")
    await builders.charge(admin, contract, "25.00", accounts["revenue"])
    await bulk_accounts(accounts["revenue"], [f"K-{i:04}" for i in range(1, count)])


async def bulk_accounts(revenue: str, numbers: list[str], bill_group: str = "G1", start: str = "2026-03-01") -> None:
    """Accounts `numbers` in `bill_group`, each with one monthly contract from `start` at 25.00 on a zero-tax
    location, written in bulk (no API round trips) for tests that need many."""
    revenue_id = int(from_base64(revenue)[1])
    await models.Account.bulk_create([
        models.Account(number=number, name=f"Customer {number}", bill_group=bill_group, division="D1",
                       currency="USD", tax_location="ZERO", billing_email="k@example.com") for number in numbers])
    ids = await models.Account.filter(number__in=numbers).values_list("id", flat=True)
    await models.SalesContract.bulk_create([
        models.SalesContract(account_id=a, number=f"SC-{a}", frequency="MONTHLY", start_date=start,
                             billing_anchor=start) for a in ids])
    contract_ids = await models.SalesContract.filter(account_id__in=list(ids)).values_list("id", flat=True)
    await models.RecurringCharge.bulk_create([
        models.RecurringCharge(contract_id=c, description="Service", periodic_price="25.00", quantity=1,
                               revenue_account_id=revenue_id) for c in contract_ids])


RESTRICT = """mutation($input: RestrictAccountInput!) { restrictAccount(input: $input) { errors { code } } }"""


async def processed_with_a_restricted_account(api: Api) -> str:
    """A processed batch billing two accounts: OPEN-1, and SECRET-1 restricted to nobody (admins still see it)."""
    accounts = await books(api)
    for number in ("OPEN-1", "SECRET-1"):
        account = await builders.account(api, number, taxLocation="ZERO")
        if number.startswith("SECRET"):
            await api.mutate("restrictAccount", RESTRICT, {"input": {"accountId": account, "restricted": True,
                                                                      "userIds": []}})
        contract = await builders.contract(api, account, f"SC-{number}", start="2026-05-01")
        await builders.charge(api, contract, "10.00", accounts["revenue"])
    created = await batch(api)
    await process(api, created)
    return created
