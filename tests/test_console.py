"""The web console at /app in a real browser: Debian's Chromium driven by Playwright against a real `billrun serve`
and Dramatiq worker, the console talking to billrun only through the public GraphQL API.

One journey takes the demo company's run from creation to completion as a clerk holding every permission, while a
second browser context, signed in as a reviewer with BILLING_ACCESS only, watches the same run live; on the way:
refusals shown with their code's message, the restricted account's billing present for the clerk and absent for the
reviewer, and axe-core's default rules on every screen. `make screenshots` runs it with
BILLRUN_CONSOLE_SCREENSHOTS set and keeps a picture of each screen (docs/console-*.png)."""

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

import models
from billrun.demo import DEMO_EMAIL, DEMO_PASSWORD, load_demo
from domain import approvals, auth, contracts
from models.enums import ApprovalRuleKind
from tests.support import billing, posting, waiting
from tests.support.api import Api
from tests.support.live_server import live_server
from tests.support.mailbox import Mailbox
from tests.support.worker import ROOT, WorkerProcess

CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it); never a browser download
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = os.environ.get("BILLRUN_CONSOLE_SCREENSHOTS")
REVIEWER_EMAIL, REVIEWER_PASSWORD = "reviewer@billrun.example", "reviewer-password-1"
WAIT_MS = 60_000  # a deadline for the browser to show what the server did (jobs run on a shared 2-core box)

expect.set_options(timeout=WAIT_MS)


@pytest.fixture
def server(worker: WorkerProcess, smtp_server: Mailbox) -> AsyncIterator[str]:
    with live_server() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        await chromium.close()


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


async def accessible(page: Page, screen: str) -> None:
    """No violation of axe-core's default rules on this screen; with BILLRUN_CONSOLE_SCREENSHOTS, its picture."""
    await page.add_script_tag(path=str(AXE))
    violations = await page.evaluate(
        "async () => (await axe.run(document)).violations.map("
        "v => `${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)")
    assert violations == [], f"{screen}: {violations}"
    if SCREENSHOTS:
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"console-{screen}.png"), full_page=True)


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/app/")
    await expect(page.get_by_role("heading", name="Sign in to billrun")).to_be_visible()
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Billing runs")).to_be_visible()


async def give_the_restricted_account_a_charge(token: str) -> None:
    """The demo's restricted account (granted to the demo user only) gets something to bill."""
    viewer = await auth.authenticate(token)
    assert viewer is not None
    contract = await models.SalesContract.get(number="SC-9001")
    revenue = await models.LedgerAccount.get(code="4000")
    await contracts.create_charge(viewer, {"contract_id": contract.id, "description": "Estate grounds service",
                                           "periodic_price": Decimal("75.00"), "revenue_account_id": revenue.id})


def status(page: Page):
    return page.locator("h1 .status")


async def test_the_app_is_served_with_client_side_routes(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        index = await http.get("/app/")
        deep = await http.get("/app/runs/QmlsbGluZ0JhdGNoOjE=")
        missing_asset = await http.get("/app/assets/nothing-here.js")
    assert index.status_code == 200 and '<div id="root">' in index.text
    assert deep.status_code == 200 and deep.text == index.text  # the SPA's own routes fall back to index.html
    assert index.headers["cache-control"] == "no-cache"
    assert missing_asset.status_code == 404


async def test_a_clerk_takes_a_run_from_creation_to_completion_while_a_reviewer_watches(
        server: str, browser: Browser) -> None:
    await give_the_restricted_account_a_charge(await load_demo())
    await auth.create_user(None, email=REVIEWER_EMAIL, name="Rita Reviewer", permissions=["BILLING_ACCESS"],
                           password=REVIEWER_PASSWORD)
    clerk, reviewer = await new_page(browser), await new_page(browser)
    sent: list[dict] = []
    clerk.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/graphql") and r.method == "POST"
             else None)

    # Sign-in: a refusal shows its code's message in place; then in.
    await clerk.goto(f"{server}/app/")
    await expect(clerk.get_by_role("heading", name="Sign in to billrun")).to_be_visible()
    await accessible(clerk, "sign-in")
    await clerk.get_by_label("E-mail").fill(DEMO_EMAIL)
    await clerk.get_by_label("Password").fill("not-the-password")
    await clerk.get_by_role("button", name="Sign in").click()
    await expect(clerk.get_by_role("alert")).to_contain_text("INVALID_CREDENTIALS")
    await clerk.get_by_label("Password").fill(DEMO_PASSWORD)
    await clerk.get_by_role("button", name="Sign in").click()
    await expect(clerk.get_by_role("heading", name="Billing runs")).to_be_visible()

    # Every document goes with its persisted hash (Apollo APQ's shape) and its exact text, sha256(text) = hash.
    # (The heading shows before the list's own request has gone out: wait for it.)
    async def runs_asked() -> bool:
        return "ConsoleRuns" in {body["operationName"] for body in sent}

    await waiting.until(runs_asked, "the console's ConsoleRuns request", 30)
    assert sent and all(body["extensions"]["persistedQuery"] == {
        "version": 1, "sha256Hash": hashlib.sha256(body["query"].encode()).hexdigest()} for body in sent)
    assert {body["operationName"] for body in sent} >= {"ConsoleLogin", "ConsoleViewer", "ConsoleRuns"}

    # Create the run.
    await clerk.get_by_role("link", name="Create a run").click()
    await clerk.get_by_label("Name").fill("Console run")
    await accessible(clerk, "create-run")
    await clerk.get_by_role("button", name="Create").click()
    await expect(status(clerk)).to_have_text("NOT STARTED")
    run_url = clerk.url

    # The reviewer finds it in the runs list (Draft tab) and opens it.
    await sign_in(reviewer, server, REVIEWER_EMAIL, REVIEWER_PASSWORD)
    await reviewer.get_by_role("button", name="Draft").click()
    await reviewer.get_by_role("link", name="Console run").click()
    await expect(status(reviewer)).to_have_text("NOT STARTED")
    assert reviewer.url == run_url

    # Analyze (preview), then process: both pages see the job's progress live, without reloading.
    await clerk.get_by_role("button", name="Analyze").click()
    await expect(clerk.get_by_text("Processing would create")).to_be_visible()
    await clerk.get_by_role("button", name="Process").click()
    await expect(status(clerk)).to_have_text("PROCESSED")
    await expect(status(reviewer)).to_have_text("PROCESSED")
    await expect(reviewer.locator(".job").first).to_contain_text("PROCESS job")
    await expect(reviewer.get_by_role("note")).to_contain_text("hidden from you")  # the restricted account
    await expect(reviewer.get_by_role("button", name="Post")).to_have_count(0)  # not the reviewer's to do
    await accessible(reviewer, "run-reviewer")

    # Posting before every billing is dispositioned is refused, with the code's message in place.
    await expect(clerk.get_by_label("Posting mode")).to_have_value("SEND")
    await clerk.get_by_role("button", name="Post").click()
    await expect(clerk.get_by_role("alert")).to_contain_text("BILLINGS_NOT_DISPOSITIONED")
    await accessible(clerk, "run")

    # The grid: the restricted account's billing is there for the clerk and absent for the reviewer.
    await clerk.get_by_role("link", name="Review billings").click()
    await reviewer.get_by_role("link", name="Review billings").click()
    for page in (clerk, reviewer):
        await expect(page.get_by_role("heading", name="Billings of Console run")).to_be_visible()
        await page.get_by_label("Search").fill("C-9001")
        await page.get_by_role("button", name="Filter").click()
    await expect(clerk.get_by_role("link", name="C-9001", exact=False).first).to_be_visible()
    await expect(reviewer.get_by_role("link", name="C-9001", exact=False)).to_have_count(0)
    await expect(reviewer.get_by_text("0 billings match.")).to_be_visible()
    await clerk.get_by_label("Search").fill("")
    await clerk.get_by_role("button", name="Filter").click()
    await expect(clerk.get_by_role("button", name="Next page")).to_be_enabled()  # more than one page
    await clerk.get_by_label("Sort by").select_option("AMOUNT")
    await clerk.get_by_label("Direction").select_option("DESC")
    await accessible(clerk, "billings")

    # A billing's page: lines with their trace, the transitions the server allows, audits after a decision.
    await clerk.get_by_role("link", name="C-1001", exact=False).first.click()
    await expect(clerk.get_by_role("heading", name="Lines")).to_be_visible()
    await clerk.get_by_role("group", name="Move this billing to").get_by_role("button", name="HOLD").click()
    await expect(status(clerk)).to_have_text("HOLD")
    await expect(clerk.get_by_role("table", name="Changes to this billing")).to_contain_text("HOLD")
    await clerk.get_by_text("Trace").first.click()
    await accessible(clerk, "billing")
    await clerk.get_by_role("link", name="Billings of Console run").click()

    # Mass update: approve every billing that matches (the held one stays held: its refusal is listed).
    await clerk.get_by_label("New status").select_option("APPROVED")
    await clerk.get_by_role("button", name="Apply to all", exact=False).click()
    await expect(clerk.locator(".outcome")).to_contain_text("changed")
    await clerk.get_by_role("link", name="Console run").click()

    # Post and send: both see it posted; the declined auto-pay opens a notification the clerk resolves.
    await clerk.get_by_role("button", name="Post").click()
    await expect(status(clerk)).to_have_text("POSTED")
    await reviewer.go_back()  # from the grid to the run's page
    await expect(status(reviewer)).to_have_text("POSTED")
    # Each declined auto-pay (the demo's tok_decline account) opens a notification; the clerk resolves them
    # as they come, until the run has no blocker left.
    ready = clerk.get_by_text("Ready to complete.")
    still_open = clerk.locator("ul.notifications li").filter(has_text="OPEN")
    notes = clerk.locator("ul.notifications em", has_text="Called the customer")
    for resolved in range(20):
        await expect(ready.or_(still_open.first)).to_be_visible()
        if await ready.is_visible():
            break
        await still_open.first.get_by_label("Resolution note").fill("Called the customer")
        await still_open.first.get_by_role("button", name="Resolve").click()
        await expect(notes).to_have_count(resolved + 1)
    assert resolved > 0, "the declined payment opened no notification"
    await clerk.get_by_role("button", name="Complete").click()
    await expect(status(clerk)).to_have_text("COMPLETED")
    await expect(status(reviewer)).to_have_text("COMPLETED")

    # The invoices, with their PDF.
    await clerk.get_by_role("link", name="Invoices").first.click()
    await expect(clerk.get_by_role("button", name="PDF of invoice", exact=False).first).to_be_visible()
    async with clerk.expect_download() as download_info:
        await clerk.get_by_role("button", name="PDF of invoice", exact=False).first.click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".pdf")
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert pdf.startswith(b"%PDF")
    await accessible(clerk, "invoices")

    # Back to the runs list (the posted tab), then sign out: the console is closed to the old session.
    await clerk.get_by_role("link", name="Runs", exact=True).click()
    await clerk.get_by_role("button", name="Posted").click()
    await expect(clerk.get_by_role("link", name="Console run")).to_be_visible()
    await accessible(clerk, "runs")
    await clerk.get_by_role("button", name="Sign out").click()
    await expect(clerk.get_by_role("status")).to_contain_text("signed out")


async def test_a_clerk_credits_a_line_schedules_a_run_and_an_admin_adds_a_rule(
        server: str, browser: Browser, client: httpx.AsyncClient) -> None:
    """The demo admin (every permission) credits one line of a posted invoice and issues the note (its CN number
    shown), creates and pauses a schedule, and creates an approval rule; axe-core on each of these screens."""
    demo = Api(client, await load_demo())
    batch = await billing.batch(demo, "Posted for credit", invoice_date=None)
    await billing.process(demo, batch)
    await posting.approve_all(demo, batch)
    await posting.post(demo, batch)
    page = await new_page(browser)
    await sign_in(page, server, DEMO_EMAIL, DEMO_PASSWORD)

    # Credit: one line of a posted invoice, a part of its amount, a reason from the fixed set; draft, then issue.
    await page.get_by_role("link", name="Invoices").click()
    await page.get_by_role("link", name="Credit invoice", exact=False).first.click()
    await expect(page.get_by_role("heading", name="Credit invoice", exact=False)).to_be_visible()
    await page.get_by_label("Chosen lines").check()
    lines = page.get_by_role("table", name="Lines to credit")
    await lines.get_by_role("checkbox").first.check()
    await lines.get_by_label("Amount to credit", exact=False).first.fill("1.00")
    await page.get_by_label("Reason").select_option("PRODUCT_UNSATISFACTORY")
    await page.get_by_label("Description", exact=False).fill("Service outage on the 3rd")
    await page.get_by_role("button", name="Create draft").click()
    notes = page.get_by_role("table", name="Credit notes of invoice", exact=False)
    await expect(notes.locator(".cn-number")).to_have_text("(draft)")
    await accessible(page, "credit-invoice")
    await notes.get_by_role("button", name="Issue").click()
    await expect(notes.locator(".cn-number")).to_have_text(re.compile(r"^CN-\d+$"))
    number = await notes.locator(".cn-number").inner_text()
    await page.get_by_role("link", name="Credit notes").click()
    await expect(page.get_by_role("table", name="Credit notes")).to_contain_text(number)
    await expect(page.get_by_role("button", name=f"PDF of credit note {number}")).to_be_visible()
    await accessible(page, "credit-notes")

    # Schedules: create one, then pause it (a refusal shows in place: a day out of range first).
    await page.get_by_role("link", name="Schedules").click()
    await page.get_by_label("Name").fill("Monthly from the console")
    await page.get_by_role("spinbutton", name="Day").fill("31")
    await page.get_by_role("button", name="Create schedule").click()
    await expect(page.get_by_role("alert")).to_contain_text("day")
    await page.get_by_role("spinbutton", name="Day").fill("5")
    await page.get_by_role("button", name="Create schedule").click()
    row = page.get_by_role("row").filter(has_text="Monthly from the console")
    await expect(row).to_contain_text("MONTHLY on day 5")
    await row.get_by_role("button", name="Pause Monthly from the console").click()
    await expect(row.locator(".status")).to_have_text("PAUSED")
    await expect(row.get_by_role("button", name="Resume Monthly from the console")).to_be_visible()
    await accessible(page, "schedules")

    # Approval rules (ADMIN): a batch-total rule, then its threshold changed.
    await page.get_by_role("link", name="Approval rules").click()
    await page.get_by_label("Applies when").select_option("BATCH_TOTAL_ABOVE")
    await page.get_by_label("Threshold").fill("250000.00")
    await page.get_by_role("button", name="Create rule").click()
    rule = page.get_by_role("row").filter(has_text="approved total above")
    await expect(rule.locator(".rule-threshold")).to_contain_text("250000.00")
    await rule.get_by_label("New threshold", exact=False).fill("300000.00")
    await rule.get_by_role("button", name="Save threshold").click()
    await expect(rule.locator(".rule-threshold")).to_contain_text("300000.00")
    await accessible(page, "approval-rules")


CONFIRMER_EMAIL, CONFIRMER_PASSWORD = "confirmer@billrun.example", "confirmer-password-1"
BATCH_STATUS = "query($id: ID!) { billingBatch(id: $id) { status postRequest { mode } } }"
BILLING_STATUS = "query($id: ID!) { node(id: $id) { ... on PeriodicBilling { billingStatus version } } }"


async def test_a_second_clerk_confirms_a_posting_above_the_approval_rule_and_sees_it_posted(
        server: str, browser: Browser, client: httpx.AsyncClient) -> None:
    """A batch-total rule (docs/APPROVALS.md): the demo user's Post only requests the posting; another clerk with
    BILLING_SEND_EXPORT opens the run, clicks Confirm posting and sees it POSTED, and the API agrees."""
    token = await load_demo()
    demo = Api(client, token)
    batch = await billing.batch(demo, "Four eyes run", invoice_date=None)
    await billing.process(demo, batch)
    await posting.approve_all(demo, batch)
    viewer = await auth.authenticate(token)
    assert viewer is not None
    currency = (await models.BillingBatch.get(id=posting.db_id(batch))).currency
    await approvals.create_rule(viewer, ApprovalRuleKind.BATCH_TOTAL_ABOVE, Decimal("0.01"), currency)
    await auth.create_user(None, email=CONFIRMER_EMAIL, name="Conrad Confirmer",
                           permissions=["BILLING_ACCESS", "BILLING_SEND_EXPORT"], password=CONFIRMER_PASSWORD)
    requester, confirmer = await new_page(browser), await new_page(browser)

    await sign_in(requester, server, DEMO_EMAIL, DEMO_PASSWORD)
    await requester.goto(f"{server}/app/runs/{batch}")
    await expect(status(requester)).to_have_text("PROCESSED")
    await requester.get_by_role("button", name="Post").click()
    await expect(requester.get_by_role("note", name="Posting request")).to_contain_text("another user must confirm")
    assert (await demo.ok(BATCH_STATUS, {"id": batch}))["billingBatch"] == {
        "status": "PROCESSED", "postRequest": {"mode": "SEND"}}

    await sign_in(confirmer, server, CONFIRMER_EMAIL, CONFIRMER_PASSWORD)
    await confirmer.goto(f"{server}/app/runs/{batch}")
    await expect(confirmer.get_by_role("note", name="Posting request")).to_be_visible()
    await confirmer.get_by_role("button", name="Confirm posting").click()
    await expect(status(confirmer)).to_have_text("POSTED")
    await expect(confirmer.get_by_role("note", name="Posting request")).to_have_count(0)
    assert (await demo.ok(BATCH_STATUS, {"id": batch}))["billingBatch"] == {"status": "POSTED", "postRequest": None}


async def test_the_second_of_two_sessions_editing_a_billing_gets_the_conflict_reloads_and_saves(
        server: str, browser: Browser, client: httpx.AsyncClient) -> None:
    """Two sessions on one billing's page: the first moves it to HOLD; the second, still showing the old version,
    is refused with CONCURRENT_UPDATE, clicks Reload, sees HOLD (the first's change) and then approves it."""
    demo = Api(client, await load_demo())
    batch = await billing.batch(demo, "Conflict run", invoice_date=None)
    await billing.process(demo, batch)
    target = (await billing.billings(demo, batch, first=1))[0]["id"]
    first, second = await new_page(browser), await new_page(browser)
    for page in (first, second):
        await sign_in(page, server, DEMO_EMAIL, DEMO_PASSWORD)
        await page.goto(f"{server}/app/billings/{target}")
        await expect(status(page)).to_have_text("NEW")
    moves = "Move this billing to"

    await first.get_by_role("group", name=moves).get_by_role("button", name="HOLD").click()
    await expect(status(first)).to_have_text("HOLD")
    await second.get_by_role("group", name=moves).get_by_role("button", name="APPROVAL IN PROCESS").click()
    await expect(second.get_by_role("alert")).to_contain_text("CONCURRENT_UPDATE")
    await expect(status(second)).to_have_text("NEW")  # nothing written: still the version it loaded
    await second.get_by_role("alert").get_by_role("button", name="Reload").click()
    await expect(status(second)).to_have_text("HOLD")
    await expect(second.get_by_role("alert")).to_have_count(0)
    await second.get_by_role("group", name=moves).get_by_role("button", name="APPROVED").click()
    await expect(status(second)).to_have_text("APPROVED")
    assert (await demo.ok(BILLING_STATUS, {"id": target}))["node"]["billingStatus"] == "APPROVED"


async def test_graphiql_opens_on_a_whole_run_with_a_header_to_fill(client: httpx.AsyncClient,
                                                                   browser: Browser) -> None:
    """Off the embedded default there is no demo token to fill in: the header says where one comes from (the
    embedded suite's `make run` test finds the demo token there)."""
    with live_server() as port:
        ide = await new_page(browser)
        await ide.goto(f"http://127.0.0.1:{port}/graphql")
        await expect(ide.locator(".graphiql-tab")).to_have_count(6)
        await expect(ide.locator(".graphiql-tab").first).to_contain_text("CreateRun")
        if SCREENSHOTS:
            await ide.screenshot(path=str(Path(SCREENSHOTS) / "console-graphiql.png"))
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "defaultTabs: parameters.q ? undefined : [" in page.text
    assert "the token `billrun demo` printed" in page.text
    for operation in ("mutation CreateRun", "mutation Analyze", "mutation Process", "query Review",
                      "mutation Post", "subscription RunEvents"):
        assert operation in page.text


async def test_a_session_ended_elsewhere_sends_the_console_back_to_sign_in(server: str, browser: Browser) -> None:
    await load_demo()
    page = await new_page(browser)
    await sign_in(page, server, DEMO_EMAIL, DEMO_PASSWORD)
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('billrun.session')).token")
    async with httpx.AsyncClient(base_url=server) as http:  # signed out from another client: the token is revoked
        answer = await http.post("/graphql", json={"query": "mutation { logout { errors { code } } }"},
                                 headers={"Authorization": f"Bearer {token}"})
    assert answer.json()["data"]["logout"]["errors"] == []
    await page.get_by_role("link", name="Invoices").click()
    await expect(page.get_by_role("heading", name="Sign in to billrun")).to_be_visible()
    await expect(page.get_by_role("status")).to_contain_text("session has ended")
