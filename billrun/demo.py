"""Demo data for the embedded default: a small company ready for its first billing run.

Loaded once through the same domain functions the API calls; every later run only prints a fresh token.
"""

from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

import models
from domain import accounts, auth, chart, clock, contracts, periods
from domain.access import Viewer
from models.enums import BillingFrequency, LedgerAccountKind, Permission

DEMO_EMAIL = "demo@billrun.example"
DEMO_PASSWORD = "billrun-demo-password"
ALL_PERMISSIONS = [p.value for p in Permission]


async def load_demo() -> str:
    """Create the demo company if it is not there yet; return a new API token with every permission."""
    user = await models.User.get_or_none(email=DEMO_EMAIL)
    if user is None:
        user = await auth.create_user(None, email=DEMO_EMAIL, name="Demo Admin", permissions=ALL_PERMISSIONS,
                                      password=DEMO_PASSWORD)
        token, _ = await auth.create_api_token(None, user_id=user.id, name="demo")
        viewer = await auth.authenticate(token)
        assert viewer is not None
        await _company(viewer)
    token, _ = await auth.create_api_token(None, user_id=user.id, name="demo")
    return token


async def _company(viewer: Viewer) -> None:
    today = clock.today()
    this_month = today.replace(day=1)
    await periods.create_period(viewer, this_month)
    await periods.create_period(viewer, this_month - relativedelta(months=1))

    ledger = {}
    for code, name, kind in [
        ("1000", "Cash", LedgerAccountKind.CASH),
        ("1200", "Accounts receivable", LedgerAccountKind.RECEIVABLE),
        ("2200", "Sales tax payable", LedgerAccountKind.TAX_PAYABLE),
        ("4000", "Service revenue", LedgerAccountKind.REVENUE),
        ("4100", "Equipment rental revenue", LedgerAccountKind.REVENUE),
        ("4200", "Work-order revenue", LedgerAccountKind.REVENUE),
    ]:
        ledger[code] = await chart.create_ledger_account(viewer, {"code": code, "name": name, "kind": kind})
    for location, name, rate in [("TX-AUSTIN", "Austin sales tax", "0.0825"),
                                 ("TX-DALLAS", "Dallas sales tax", "0.0825"),
                                 ("OK-TULSA", "Tulsa sales tax", "0.0852")]:
        await chart.create_tax_rate(viewer, {"location": location, "name": name, "rate": Decimal(rate),
                                             "ledger_account_id": ledger["2200"].id})

    start = this_month - relativedelta(months=4)
    customers = [
        ("C-1001", "Acme Hauling", "RESIDENTIAL", "NORTH", "TX-AUSTIN", "tok_ok"),
        ("C-1002", "Birch Street Apartments", "RESIDENTIAL", "NORTH", "TX-AUSTIN", None),
        ("C-1003", "Cedar Diner", "COMMERCIAL", "NORTH", "TX-DALLAS", "tok_decline"),
        ("C-1004", "Delta Logistics", "COMMERCIAL", "SOUTH", "OK-TULSA", None),
        ("C-1005", "Elm Medical Center", "COMMERCIAL", "SOUTH", "TX-DALLAS", "tok_ok"),
        ("C-1006", "Fir Row Townhomes", "RESIDENTIAL", "SOUTH", "OK-TULSA", None),
    ]
    for i, (number, name, group, division, location, pay_token) in enumerate(customers):
        account = await accounts.create_account(viewer, {
            "number": number, "name": name, "bill_group": group, "division": division,
            "tax_location": location, "billing_email": f"billing+{number.lower()}@example.com",
            "billing_address": f"{100 + i * 12} {name.split()[0]} Road\n{location[3:].title()}, {location[:2]} 7{i:04}",
            "payment_terms_days": 15 if group == "COMMERCIAL" else 30,
            "autopay_enabled": pay_token is not None, "payment_method_token": pay_token,
        })
        quarterly = i % 3 == 2
        contract = await contracts.create_contract(viewer, {
            "account_id": account.id, "number": f"SC-{number[2:]}",
            "frequency": BillingFrequency.QUARTERLY if quarterly else BillingFrequency.MONTHLY,
            "start_date": start if not quarterly else start - relativedelta(months=2),
        })
        service = await contracts.create_charge(viewer, {
            "contract_id": contract.id, "description": "Weekly collection",
            "periodic_price": Decimal("20.00") if not quarterly else Decimal("240.00"),
            "revenue_account_id": ledger["4000"].id})
        rental = await contracts.create_charge(viewer, {
            "contract_id": contract.id, "description": "Container rental",
            "periodic_price": Decimal("100.00") if not quarterly else Decimal("450.00"),
            "revenue_account_id": ledger["4100"].id})
        await _dated_prices(viewer, service, rental, start)

    restricted = await accounts.create_account(viewer, {
        "number": "C-9001", "name": "Governor's Mansion (restricted)", "bill_group": "COMMERCIAL",
        "division": "NORTH", "tax_location": "TX-AUSTIN", "billing_email": "accounts@example.gov"})
    await accounts.restrict_account(viewer, restricted.id, True, [viewer.user_id])
    await contracts.create_contract(viewer, {"account_id": restricted.id, "number": "SC-9001",
                                             "frequency": BillingFrequency.MONTHLY, "start_date": start})


async def _dated_prices(viewer: Viewer, a: models.RecurringCharge, b: models.RecurringCharge, start: date) -> None:
    """The price schedule of the 004 reference vector: month 1 contract price, 2 and 3 dated, 4 none, 5+ dated."""
    month = relativedelta(months=1)
    day = relativedelta(days=1)
    schedule = [(1, 2, "30.00", "200.00"), (2, 3, "40.00", "300.00"), (4, None, "50.00", "400.00")]
    for first, last, price_a, price_b in schedule:
        window = {"first_effective_date": start + first * month,
                  "last_effective_date": start + last * month - day if last is not None else None}
        await contracts.create_dated_price(viewer, {"charge_id": a.id, "periodic_price": Decimal(price_a), **window})
        await contracts.create_dated_price(viewer, {"charge_id": b.id, "periodic_price": Decimal(price_b), **window})
