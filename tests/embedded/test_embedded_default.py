"""The embedded default (SQLite, in-process broker and worker) stays working: `make run` relies on it."""

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from dramatiq.brokers.stub import StubBroker

import models
from billrun.settings import get_settings
from tests.support import builders
from tests.support.api import Api
from tests.support.worker import ROOT


def test_settings_select_the_embedded_default() -> None:
    from workers.broker import broker

    assert get_settings().embedded and get_settings().database_url.startswith("sqlite://")
    assert isinstance(broker, StubBroker)


async def test_in_process_worker_runs_actors_on_the_app_loop() -> None:
    from workers.actors import purge_expired
    from workers.embedded import in_process_worker

    await models.LoginAttempt.create(email="old@x.io", succeeded=False, at=datetime.now(UTC) - timedelta(days=90))
    async with in_process_worker():
        purge_expired.send()
        for _ in range(100):
            if not await models.LoginAttempt.exists():
                break
            await asyncio.sleep(0.05)
    assert not await models.LoginAttempt.exists()


async def test_master_data_and_pagination_on_sqlite(admin: Api, clerk: Api) -> None:
    revenue = await builders.revenue_account(admin)
    for i in range(5):
        account = await builders.account(clerk, f"E-{i}")
    contract = await builders.contract(clerk, account, "SC-E")
    charge = await builders.charge(clerk, contract, "19.99", revenue)
    await builders.dated_price(clerk, charge, "2026-02-01", "2026-02-28", "29.99")
    overlap = await clerk.ok(builders.CREATE_DATED_PRICE, {"input": {
        "chargeId": charge, "firstEffectiveDate": "2026-02-15", "periodicPrice": "1.00"}})
    assert overlap["createDatedPrice"]["errors"][0]["code"] == "OVERLAPPING_DATED_PRICE"
    page = (await clerk.ok("{ accounts(last: 2) { totalCount nodes { number } } }"))["accounts"]
    assert page == {"totalCount": 5, "nodes": [{"number": "E-3"}, {"number": "E-4"}]}
    tree = await clerk.ok("query($id: ID!) { node(id: $id) { ... on RecurringCharge { periodicPrice "
                          "datedPrices { periodicPrice } } } }", {"id": charge})
    assert tree["node"] == {"periodicPrice": "19.99", "datedPrices": [{"periodicPrice": "29.99"}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_run_path_serves_the_demo_with_a_printed_token(tmp_path: Path) -> None:
    """What `make run` does, step by step: migrate, demo (prints a token), serve; then a client asks."""
    port = _free_port()
    outbox = tmp_path / "outbox"
    env = dict(os.environ, DATABASE_URL=f"sqlite://{tmp_path / 'run.sqlite3'}", BILLRUN_PORT=str(port),
               BILLRUN_ENV="development", BILLRUN_OUTBOX_DIR=str(outbox))
    env.pop("REDIS_URL", None)
    cli = [sys.executable, "-m", "billrun"]
    subprocess.run([*cli, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    demo = subprocess.run([*cli, "demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True,
                          timeout=120)
    token = re.search(r"\b(brn_[\w-]+)", demo.stdout).group(1)
    server = subprocess.Popen([*cli, "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.post(url, json={"query": "{ viewer { id permissions } "
                                                          "accounts { totalCount } }"},
                                      headers={"Authorization": f"Bearer {token}"}, timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:  # a wait with a deadline, not a speed check
                    raise AssertionError("billrun serve did not come up") from None
                time.sleep(0.2)
        body = response.json()
        assert body["data"]["viewer"]["permissions"] == ["ADMIN", "BILLING_ACCESS", "BILLING_APPROVE",
                                                         "BILLING_SEND_EXPORT"]
        assert body["data"]["accounts"]["totalCount"] == 7
        page = httpx.get(url, headers={"Accept": "text/html"}, timeout=5)
        assert page.status_code == 200 and "unpkg" not in page.text
        # The front door: a tab per step of a run, the demo token already in the headers.
        assert f"Bearer {token}" in page.text
        for operation in ("mutation CreateRun", "mutation Analyze", "mutation Process", "query Review",
                          "mutation Post", "subscription RunEvents"):
            assert operation in page.text
        console = httpx.get(f"http://127.0.0.1:{port}/app/runs", timeout=5)  # the web console, a client route
        assert console.status_code == 200 and '<div id="root">' in console.text
        batch = _process_demo_batch_over_http(url, token)
        _post_and_complete_over_http(url, token, batch, outbox)
    finally:
        server.terminate()
        server.wait(20)


async def test_demo_batch_is_created_analyzed_processed_and_reversed(admin: Api) -> None:
    """The demo company on the embedded default: the whole processing lifecycle through the API."""
    from billrun.demo import load_demo
    from tests.support import billing
    from workers.embedded import in_process_worker

    token = await load_demo()
    demo = admin.as_(token)
    today = (await demo.ok("{ accountingPeriods(first: 1) { nodes { month } } }"))["accountingPeriods"]["nodes"]
    invoice_date = today[0]["month"]
    async with in_process_worker():
        batch = await billing.batch(demo, "Demo run", invoice_date=invoice_date)
        analysis = (await demo.ok(billing.ANALYZE, {"id": batch}))["analyzeBillingBatch"]
        assert analysis["errors"] == [] and analysis["preview"]["billingCount"] > 6
        await billing.process(demo, batch)
        state = (await demo.ok(billing.BATCH, {"id": batch}))["billingBatch"]
        assert state["status"] == "PROCESSED"
        assert state["summary"]["billingCount"] == analysis["preview"]["billingCount"]
        assert state["summary"]["totalAmount"] == analysis["preview"]["amount"]
        rows = await billing.billings(demo, batch)
        assert all(r["details"] for r in rows)
        job = (await demo.ok(billing.REVERSE, {"id": batch}))["reverseBillingBatch"]["job"]
        assert (await billing.wait_for_job(demo, job["id"]))["status"] == "SUCCEEDED"
        state = (await demo.ok(billing.BATCH, {"id": batch}))["billingBatch"]
        assert state["status"] == "NOT_STARTED" and state["summary"]["billingCount"] == 0


def _gql(url: str, token: str, query: str, variables: dict | None = None) -> dict:
    body = httpx.post(url, json={"query": query, "variables": variables or {}},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    assert "errors" not in body, body
    return body["data"]


def _until(check, what: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:  # a wait with a deadline, not a speed check
            raise AssertionError(f"the in-process worker did not {what}")
        time.sleep(0.2)


def _process_demo_batch_over_http(url: str, token: str) -> str:
    """A batch over the demo data, processed by the server's in-process worker, as curl would do it."""
    def gql(query: str, variables: dict | None = None) -> dict:
        return _gql(url, token, query, variables)

    month = gql("{ accountingPeriods(first: 1) { nodes { month } } }")["accountingPeriods"]["nodes"][0]["month"]
    batch = gql("""mutation($d: Date!) { createBillingBatch(input: {name: "curl run", invoiceDate: $d}) {
      billingBatch { id } errors { code } } }""", {"d": month})["createBillingBatch"]["billingBatch"]["id"]
    job = gql("""mutation($id: ID!) { processBillingBatch(input: {batchId: $id}) { job { id } errors { code } } }""",
              {"id": batch})["processBillingBatch"]["job"]["id"]
    deadline = time.monotonic() + 60
    while gql("query($id: ID!) { job(id: $id) { status } }", {"id": job})["job"]["status"] != "SUCCEEDED":
        if time.monotonic() > deadline:  # a wait with a deadline, not a speed check
            raise AssertionError("the in-process worker did not process the batch")
        time.sleep(0.2)
    summary = gql("query($id: ID!) { billingBatch(id: $id) { status summary { billingCount } } }", {"id": batch})
    assert summary["billingBatch"]["status"] == "PROCESSED" and summary["billingBatch"]["summary"]["billingCount"] > 6
    return batch


def _post_and_complete_over_http(url: str, token: str, batch: str, outbox: Path) -> None:
    """The rest of the lifecycle on `make run`: approve, post (SEND), auto-pay, export, resolve, complete."""
    from pypdf import PdfReader

    def gql(query: str, variables: dict | None = None) -> dict:
        return _gql(url, token, query, variables)

    approved = gql("""mutation($id: ID!) { massUpdateBillingStatus(input: {batchId: $id, status: APPROVED}) {
      changedCount errors { code } } }""", {"id": batch})["massUpdateBillingStatus"]
    assert approved["changedCount"] > 6 and approved["errors"] == []
    posted = gql("""mutation($id: ID!) { postBillingBatch(input: {batchId: $id, mode: SEND}) { job { id }
      errors { code message } } }""", {"id": batch})["postBillingBatch"]
    assert posted["errors"] == []
    state_query = """query($id: ID!) { billingBatch(id: $id) { status jobs { kind status }
      summary { invoiceCount amountPaid } notifications { id kind status }
      invoices(first: 100) { nodes { number amount payments { status } deliveries { channel downloadUrl } } }
      completion { ready blockers { kind } } } }"""

    def state() -> dict:
        return gql(state_query, {"id": batch})["billingBatch"]

    _until(lambda: state()["status"] == "POSTED" and all(j["status"] == "SUCCEEDED" for j in state()["jobs"]),
           "post, send and charge the demo batch")
    found = state()
    invoices = found["invoices"]["nodes"]
    assert len(invoices) == found["summary"]["invoiceCount"] > 6
    # Every invoice is an .eml (with its PDF attached) and a PDF in the outbox folder.
    for invoice in invoices:
        assert (outbox / f"{invoice['number']}.eml").stat().st_size > 0
        text = PdfReader(outbox / f"{invoice['number']}.pdf").pages[0].extract_text()
        assert invoice["number"] in text and f"{float(invoice['amount']):,.2f}" in text
    assert {p["status"] for i in invoices for p in i["payments"]} == {"SUCCEEDED", "DECLINED"}
    # The graph shows no server path: each outbox e-mail downloads from its delivery's URL, byte for byte.
    for invoice in invoices[:2]:
        [delivery] = invoice["deliveries"]
        assert delivery["channel"] == "OUTBOX_FILE"
        eml = httpx.get(url.removesuffix("/graphql") + delivery["downloadUrl"],
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert eml.status_code == 200 and eml.content == (outbox / f"{invoice['number']}.eml").read_bytes()
    exported = gql("""mutation($id: ID!) { exportBillingBatch(input: {batchId: $id, format: INVOICES_CSV}) {
      export { downloadUrl sha256 } errors { code } } }""", {"id": batch})["exportBillingBatch"]["export"]
    download = httpx.get(url.removesuffix("/graphql") + exported["downloadUrl"],
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert download.status_code == 200 and all(i["number"] in download.text for i in invoices)
    # The declined card (C-1003, tok_decline) holds completion until someone resolves its notification.
    assert {b["kind"] for b in found["completion"]["blockers"]} == {"OPEN_NOTIFICATION"}
    for note in found["notifications"]:
        gql("""mutation($id: ID!) { resolveNotification(input: {id: $id, note: "Called the customer"}) {
          errors { code } } }""", {"id": note["id"]})
    done = gql("""mutation($id: ID!) { completeBillingBatch(input: {batchId: $id}) { billingBatch { status }
      errors { code message } } }""", {"id": batch})["completeBillingBatch"]
    assert done == {"billingBatch": {"status": "COMPLETED"}, "errors": []}


async def test_mass_updates_and_edits_work_on_sqlite(admin: Api) -> None:
    """Dispositions, a mass update and a grid edit on the embedded default."""
    from tests.support import billing
    from workers.embedded import in_process_worker

    accounts = await billing.books(admin)
    for i in range(3):
        account = await builders.account(admin, f"S-{i}")
        await builders.charge(admin, await builders.contract(admin, account, f"SC-S{i}", start="2026-04-01"),
                              "30.00", accounts["revenue"])
    async with in_process_worker():
        batch = await billing.batch(admin)
        await billing.process(admin, batch)
    rows = await billing.billings(admin, batch)
    assert len(rows) == 6
    first = rows[0]
    edit = await admin.mutate("updateBillingDetail", """mutation($input: UpdateBillingDetailInput!) {
      updateBillingDetail(input: $input) { periodicBilling { periodicBillingAmount } errors { code } } }""",
                              {"input": {"id": await _first_detail(admin, first["id"]), "billingAmount": "40.00"}})
    assert edit["periodicBilling"]["periodicBillingAmount"] == "43.30"
    mass = await admin.ok("""mutation($id: ID!) { massUpdateBillingStatus(input: {batchId: $id, status: REJECTED}) {
      changedCount refusedCount refusals { code } errors { code } } }""", {"id": batch})
    result = mass["massUpdateBillingStatus"]
    # April billings are refused (a later May billing is not rejected); May ones are refused too (April is NEW)
    assert result["changedCount"] == 0 and {r["code"] for r in result["refusals"]} == {
        "LATER_BILLING_EXISTS", "EARLIER_BILLING_NOT_DISPOSITIONED"}
    approved = await admin.ok("""mutation($id: ID!) { massUpdateBillingStatus(input: {batchId: $id,
      status: APPROVED}) { changedCount refusedCount errors { code } } }""", {"id": batch})
    assert approved["massUpdateBillingStatus"] == {"changedCount": 6, "refusedCount": 0, "errors": []}
    assert await models.Audit.filter(operation="MASS_DISPOSITION").count() == 6


async def _first_detail(api: Api, billing_id: str) -> str:
    data = await api.ok("query($id: ID!) { periodicBilling(id: $id) { details { id } } }", {"id": billing_id})
    return data["periodicBilling"]["details"][0]["id"]


async def test_posting_on_sqlite_skips_zero_amount_auto_pay(admin: Api) -> None:
    """Posting in process on SQLite: a 0.00 invoice of an auto-pay account is not charged (money is text
    there), the others are, and the ledger balances."""
    from tests.support import posting
    from workers.embedded import in_process_worker

    accounts = await posting.company(admin)
    await posting.customer(admin, accounts, "FREE", "0.00", taxLocation="ZERO", autopayEnabled=True,
                           paymentMethodToken="tok_ok")
    await posting.customer(admin, accounts, "PAYS", "12.50", taxLocation="ZERO", autopayEnabled=True,
                           paymentMethodToken="tok_ok")
    async with in_process_worker():
        batch = await posting.processed(admin)
        await posting.approve_all(admin, batch)
        await posting.post(admin, batch, "EXPORT")
    invoices = {i["account"]["number"]: i for i in
                (await admin.ok(posting.INVOICES, {"id": batch}))["billingBatch"]["invoices"]["nodes"]}
    assert invoices["FREE"]["amount"] == "0.00" and invoices["FREE"]["payments"] == []
    assert invoices["PAYS"]["status"] == "PAID" and invoices["PAYS"]["amountPaid"] == "12.50"
    found = (await admin.ok(posting.BATCH, {"id": batch}))["billingBatch"]
    assert found["status"] == "POSTED" and sorted(e["format"] for e in found["exports"]) == ["INVOICES_CSV",
                                                                                          "JOURNAL_CSV"]
    assert (await admin.ok("{ trialBalance { balanced totalDebit } }"))["trialBalance"] == {
        "balanced": True, "totalDebit": "25.00"}
