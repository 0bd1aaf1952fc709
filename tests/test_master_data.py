"""A client sets up a customer end to end without SQL; bad input is refused with codes and changes nothing."""

from tests.support import builders
from tests.support.api import Api

ACCOUNT_TREE = """query($id: ID!) { node(id: $id) { ... on Account { number currency hasPaymentMethod
  contracts { number frequency startDate billingAnchor charges { description periodicPrice quantity
    revenueAccount { code } datedPrices { firstEffectiveDate lastEffectiveDate periodicPrice } } } } } }"""


async def test_customer_set_up_end_to_end(clerk: Api, admin: Api) -> None:
    revenue = await builders.revenue_account(admin)
    account = await builders.account(clerk, "C-1", autopayEnabled=True, paymentMethodToken="tok_ok")
    contract = await builders.contract(clerk, account, "SC-1", start="2026-01-15")
    charge_a = await builders.charge(clerk, contract, "20.00", revenue, "A")
    await builders.charge(clerk, contract, "100.00", revenue, "B")
    await builders.dated_price(clerk, charge_a, "2026-02-15", "2026-03-14", "30.00")
    await builders.dated_price(clerk, charge_a, "2026-06-15", None, "50.00")
    tree = (await clerk.ok(ACCOUNT_TREE, {"id": account}))["node"]
    assert tree["currency"] == "USD" and tree["hasPaymentMethod"] is True
    [c] = tree["contracts"]
    assert c["billingAnchor"] == "2026-01-15"
    assert [(ch["description"], ch["periodicPrice"], ch["revenueAccount"]["code"]) for ch in c["charges"]] == [
        ("A", "20.00", "4000"), ("B", "100.00", "4000")]
    assert c["charges"][0]["datedPrices"] == [
        {"firstEffectiveDate": "2026-02-15", "lastEffectiveDate": "2026-03-14", "periodicPrice": "30.00"},
        {"firstEffectiveDate": "2026-06-15", "lastEffectiveDate": None, "periodicPrice": "50.00"}]


async def _errors(api: Api, name: str, query: str, variables: dict) -> list[dict]:
    payload = (await api.ok(query, variables))[name]
    assert [v for k, v in payload.items() if k != "errors"] == [None]
    return [{"code": e["code"], "field": e["field"]} for e in payload["errors"]]


async def test_overlapping_dated_price_windows_are_refused(clerk: Api, admin: Api) -> None:
    revenue = await builders.revenue_account(admin)
    contract = await builders.contract(clerk, await builders.account(clerk, "C-1"), "SC-1")
    charge = await builders.charge(clerk, contract, "20.00", revenue)
    await builders.dated_price(clerk, charge, "2026-02-01", "2026-02-28", "30.00")
    await builders.dated_price(clerk, charge, "2026-04-01", None, "50.00")
    for first, last in [("2026-02-28", "2026-03-10"), ("2026-01-01", "2026-02-01"), ("2026-05-01", None),
                        ("2026-01-01", None)]:
        errors = await _errors(clerk, "createDatedPrice", builders.CREATE_DATED_PRICE, {"input": {
            "chargeId": charge, "firstEffectiveDate": first, "lastEffectiveDate": last, "periodicPrice": "1.00"}})
        assert errors == [{"code": "OVERLAPPING_DATED_PRICE", "field": "firstEffectiveDate"}], (first, last)
    # The gap between the windows is free.
    await builders.dated_price(clerk, charge, "2026-03-01", "2026-03-31", "40.00")
    count = (await clerk.ok("query($id: ID!) { node(id: $id) { ... on RecurringCharge { datedPrices { id } } } }",
                            {"id": charge}))["node"]["datedPrices"]
    assert len(count) == 3


async def test_updating_a_dated_price_into_an_overlap_is_refused(clerk: Api, admin: Api) -> None:
    revenue = await builders.revenue_account(admin)
    charge = await builders.charge(clerk, await builders.contract(clerk, await builders.account(clerk, "C"), "S"),
                                   "1.00", revenue)
    await builders.dated_price(clerk, charge, "2026-02-01", "2026-02-28", "30.00")
    second = await builders.dated_price(clerk, charge, "2026-03-01", "2026-03-31", "40.00")
    errors = await _errors(clerk, "updateDatedPrice", """mutation($input: UpdateDatedPriceInput!) {
      updateDatedPrice(input: $input) { datedPrice { id } errors { code field message } } }""",
                           {"input": {"id": second, "firstEffectiveDate": "2026-02-15"}})
    assert errors == [{"code": "OVERLAPPING_DATED_PRICE", "field": "firstEffectiveDate"}]
    data = await clerk.ok("query($id: ID!) { node(id: $id) { ... on DatedPrice { firstEffectiveDate } } }",
                          {"id": second})
    assert data["node"]["firstEffectiveDate"] == "2026-03-01"


async def test_unknown_revenue_account_is_refused(clerk: Api, admin: Api) -> None:
    cash = (await admin.mutate("createLedgerAccount", builders.CREATE_LEDGER, {"input": {
        "code": "1000", "name": "Cash", "kind": "CASH"}}))["ledgerAccount"]["id"]
    contract = await builders.contract(clerk, await builders.account(clerk, "C-1"), "SC-1")
    for revenue in [cash, "TGVkZ2VyQWNjb3VudDo5OTk="]:
        errors = await _errors(clerk, "createRecurringCharge", builders.CREATE_CHARGE, {"input": {
            "contractId": contract, "description": "x", "periodicPrice": "1.00", "revenueAccountId": revenue}})
        assert errors == [{"code": "UNKNOWN_REVENUE_ACCOUNT", "field": "revenueAccountId"}]


async def test_bad_account_input_lists_every_problem_and_saves_nothing(clerk: Api) -> None:
    errors = await _errors(clerk, "createAccount", builders.CREATE_ACCOUNT, {"input": {
        "number": "C-1", "name": " ", "billGroup": "G", "division": "D", "taxLocation": "T",
        "billingEmail": "nope", "currency": "usd", "paymentTermsDays": -1}})
    assert errors == [{"code": "INVALID_INPUT", "field": "name"}, {"code": "INVALID_CURRENCY", "field": "currency"},
                      {"code": "INVALID_INPUT", "field": "billingEmail"},
                      {"code": "INVALID_INPUT", "field": "paymentTermsDays"}]
    assert (await clerk.ok("{ accounts { totalCount } }"))["accounts"]["totalCount"] == 0


async def test_duplicates_and_autopay_without_token_are_refused(clerk: Api) -> None:
    await builders.account(clerk, "C-1")
    errors = await _errors(clerk, "createAccount", builders.CREATE_ACCOUNT, {"input": {
        "number": "C-1", "name": "n", "billGroup": "G", "division": "D", "taxLocation": "T",
        "billingEmail": "a@b.c"}})
    assert errors == [{"code": "DUPLICATE", "field": "number"}]
    errors = await _errors(clerk, "createAccount", builders.CREATE_ACCOUNT, {"input": {
        "number": "C-2", "name": "n", "billGroup": "G", "division": "D", "taxLocation": "T",
        "billingEmail": "a@b.c", "autopayEnabled": True}})
    assert errors == [{"code": "INVALID_INPUT", "field": "paymentMethodToken"}]


async def test_contract_and_price_validation(clerk: Api, admin: Api) -> None:
    account = await builders.account(clerk, "C-1")
    errors = await _errors(clerk, "createSalesContract", builders.CREATE_CONTRACT, {"input": {
        "accountId": account, "number": "S-1", "frequency": "MONTHLY", "startDate": "2026-03-01",
        "endDate": "2026-02-01"}})
    assert errors == [{"code": "INVALID_INPUT", "field": "endDate"}]
    contract = await builders.contract(clerk, account, "S-1")
    for price in ["-1.00", "1.001"]:
        errors = await _errors(clerk, "createRecurringCharge", builders.CREATE_CHARGE, {"input": {
            "contractId": contract, "description": "x", "periodicPrice": price}})
        assert errors == [{"code": "INVALID_INPUT", "field": "periodicPrice"}], price
    errors = await _errors(clerk, "createSalesContract", builders.CREATE_CONTRACT, {"input": {
        "accountId": contract, "number": "S-2", "frequency": "MONTHLY", "startDate": "2026-03-01"}})
    assert errors == [{"code": "NOT_FOUND", "field": "accountId"}]


async def test_malformed_money_is_a_graphql_error(clerk: Api) -> None:
    result = await clerk(builders.CREATE_CHARGE, {"input": {
        "contractId": "U2FsZXNDb250cmFjdDox", "description": "x", "periodicPrice": "ten dollars"}})
    assert result.errors and "Decimal" in result.errors[0]["message"]


async def test_chart_tax_and_periods(admin: Api) -> None:
    tax_account = (await admin.mutate("createLedgerAccount", builders.CREATE_LEDGER, {"input": {
        "code": "2200", "name": "Tax", "kind": "TAX_PAYABLE"}}))["ledgerAccount"]["id"]
    revenue = await builders.revenue_account(admin)
    errors = await _errors(admin, "createTaxRate", builders.CREATE_TAX, {"input": {
        "location": "X", "name": "X", "rate": "8.25", "ledgerAccountId": revenue}})
    assert errors == [{"code": "INVALID_INPUT", "field": "rate"}]
    errors = await _errors(admin, "createTaxRate", builders.CREATE_TAX, {"input": {
        "location": "X", "name": "X", "rate": "0.0825", "ledgerAccountId": revenue}})
    assert errors == [{"code": "UNKNOWN_LEDGER_ACCOUNT", "field": "ledgerAccountId"}]
    rate = (await admin.mutate("createTaxRate", builders.CREATE_TAX, {"input": {
        "location": "X", "name": "X", "rate": "0.0825", "ledgerAccountId": tax_account}}))["taxRate"]
    assert rate["rate"] == "0.08250"
    period = """mutation { createAccountingPeriod(input: {month: "2026-11-30"}) {
      accountingPeriod { month status } errors { code field } } }"""
    assert (await admin.ok(period))["createAccountingPeriod"]["accountingPeriod"] == {
        "month": "2026-11-01", "status": "OPEN"}
    assert (await admin.ok(period))["createAccountingPeriod"]["errors"] == [{"code": "DUPLICATE", "field": "month"}]
    data = await admin.ok('{ accountingPeriods(filter: {status: OPEN}) { totalCount } '
                          'ledgerAccounts(filter: {kind: REVENUE}) { nodes { code } } taxRates { totalCount } }')
    assert data == {"accountingPeriods": {"totalCount": 1}, "ledgerAccounts": {"nodes": [{"code": "4000"}]},
                    "taxRates": {"totalCount": 1}}


async def test_updates_change_only_what_is_given(clerk: Api) -> None:
    account = await builders.account(clerk, "C-1")
    payload = await clerk.mutate("updateAccount", """mutation($input: UpdateAccountInput!) {
      updateAccount(input: $input) { account { name division paymentTermsDays } errors { code } } }""",
                                 {"input": {"id": account, "name": "Renamed", "paymentTermsDays": 45}})
    assert payload["account"] == {"name": "Renamed", "division": "D1", "paymentTermsDays": 45}
    contract = await builders.contract(clerk, account, "S-1")
    payload = await clerk.mutate("updateSalesContract", """mutation($input: UpdateSalesContractInput!) {
      updateSalesContract(input: $input) { salesContract { status endDate } errors { code } } }""",
                                 {"input": {"id": contract, "status": "ENDED", "endDate": "2026-12-31"}})
    assert payload["salesContract"] == {"status": "ENDED", "endDate": "2026-12-31"}
    read = await clerk.ok("""query($id: ID!) { node(id: $id) { ... on Account { name paymentTermsDays
      contracts { number status startDate endDate } } } }""", {"id": account})
    assert read["node"] == {"name": "Renamed", "paymentTermsDays": 45, "contracts": [
        {"number": "S-1", "status": "ENDED", "startDate": "2026-01-01", "endDate": "2026-12-31"}]}
    before_start = await _errors(clerk, "updateSalesContract", """mutation($input: UpdateSalesContractInput!) {
      updateSalesContract(input: $input) { salesContract { status } errors { code field } } }""",
                                 {"input": {"id": contract, "endDate": "2025-12-31"}})
    assert before_start == [{"code": "INVALID_INPUT", "field": "endDate"}]


DATED_PRICES = "query($id: ID!) { node(id: $id) { ... on RecurringCharge { datedPrices { id firstEffectiveDate " \
    "lastEffectiveDate periodicPrice } } } }"
UPDATE_DATED_PRICE = """mutation($input: UpdateDatedPriceInput!) { updateDatedPrice(input: $input) {
  datedPrice { id firstEffectiveDate lastEffectiveDate periodicPrice } errors { code field message } } }"""
DELETE_DATED_PRICE = """mutation($id: ID!) { deleteDatedPrice(input: {id: $id}) { deletedId
  errors { code field message } } }"""


async def test_a_dated_price_is_corrected_and_deleted_and_its_window_freed(clerk: Api, admin: Api) -> None:
    revenue = await builders.revenue_account(admin)
    charge = await builders.charge(clerk, await builders.contract(clerk, await builders.account(clerk, "C"), "S"),
                                   "20.00", revenue)
    february = await builders.dated_price(clerk, charge, "2026-02-01", "2026-02-28", "30.00")
    march = await builders.dated_price(clerk, charge, "2026-03-01", None, "40.00")
    corrected = await clerk.mutate("updateDatedPrice", UPDATE_DATED_PRICE, {"input": {
        "id": march, "lastEffectiveDate": "2026-03-31", "periodicPrice": "45.00"}})
    assert corrected["datedPrice"] == {"id": march, "firstEffectiveDate": "2026-03-01",
                                       "lastEffectiveDate": "2026-03-31", "periodicPrice": "45.00"}
    assert (await clerk.mutate("deleteDatedPrice", DELETE_DATED_PRICE, {"id": february}))["deletedId"] == february
    assert (await clerk.ok(DATED_PRICES, {"id": charge}))["node"]["datedPrices"] == [corrected["datedPrice"]]
    assert (await clerk.ok("query($id: ID!) { node(id: $id) { id } }", {"id": february}))["node"] is None
    # Both freed windows take new prices now; the deleted one is gone for good.
    await builders.dated_price(clerk, charge, "2026-01-15", "2026-02-28", "35.00")
    await builders.dated_price(clerk, charge, "2026-04-01", None, "50.00")
    again = (await clerk.ok(DELETE_DATED_PRICE, {"id": february}))["deleteDatedPrice"]
    assert again["deletedId"] is None and [e["code"] for e in again["errors"]] == ["NOT_FOUND"]
    prices = (await clerk.ok(DATED_PRICES, {"id": charge}))["node"]["datedPrices"]
    assert [(p["firstEffectiveDate"], p["periodicPrice"]) for p in prices] == [
        ("2026-01-15", "35.00"), ("2026-03-01", "45.00"), ("2026-04-01", "50.00")]


UPDATE_LEDGER = """mutation($input: UpdateLedgerAccountInput!) { updateLedgerAccount(input: $input) {
  ledgerAccount { id code name kind active } errors { code field message } } }"""
UPDATE_TAX = """mutation($input: UpdateTaxRateInput!) { updateTaxRate(input: $input) {
  taxRate { id location name rate ledgerAccount { code } } errors { code field message } } }"""


async def test_a_ledger_account_is_renamed_and_an_inactive_one_takes_no_new_charges(admin: Api, clerk: Api) -> None:
    revenue = await builders.revenue_account(admin)
    renamed = await admin.mutate("updateLedgerAccount", UPDATE_LEDGER, {"input": {
        "id": revenue, "name": "Service revenue", "active": False}})
    assert renamed["ledgerAccount"] == {"id": revenue, "code": "4000", "name": "Service revenue",
                                        "kind": "REVENUE", "active": False}
    listed = (await clerk.ok("{ ledgerAccounts { nodes { code name active } } }"))["ledgerAccounts"]["nodes"]
    assert listed == [{"code": "4000", "name": "Service revenue", "active": False}]
    contract = await builders.contract(clerk, await builders.account(clerk, "C-1"), "SC-1")
    charge = {"input": {"contractId": contract, "description": "x", "periodicPrice": "1.00",
                        "revenueAccountId": revenue}}
    assert await _errors(clerk, "createRecurringCharge", builders.CREATE_CHARGE, charge) == [
        {"code": "UNKNOWN_REVENUE_ACCOUNT", "field": "revenueAccountId"}]
    await admin.mutate("updateLedgerAccount", UPDATE_LEDGER, {"input": {"id": revenue, "active": True}})
    await clerk.mutate("createRecurringCharge", builders.CREATE_CHARGE, charge)
    assert await _errors(admin, "updateLedgerAccount", UPDATE_LEDGER, {"input": {"id": revenue, "name": " "}}) == [
        {"code": "INVALID_INPUT", "field": "name"}]
    assert (await clerk.ok("{ ledgerAccounts { nodes { name } } }"))["ledgerAccounts"]["nodes"] == [
        {"name": "Service revenue"}]


async def test_a_tax_rate_is_corrected_and_moved_to_another_tax_payable_account(admin: Api) -> None:
    first, second = [(await admin.mutate("createLedgerAccount", builders.CREATE_LEDGER, {"input": {
        "code": code, "name": f"Tax {code}", "kind": "TAX_PAYABLE"}}))["ledgerAccount"]["id"]
        for code in ("2200", "2210")]
    rate = (await admin.mutate("createTaxRate", builders.CREATE_TAX, {"input": {
        "location": "TX-AUSTIN", "name": "Austin", "rate": "0.0825", "ledgerAccountId": first}}))["taxRate"]["id"]
    corrected = await admin.mutate("updateTaxRate", UPDATE_TAX, {"input": {
        "id": rate, "name": "Austin sales tax", "rate": "0.08375", "ledgerAccountId": second}})
    assert corrected["taxRate"] == {"id": rate, "location": "TX-AUSTIN", "name": "Austin sales tax",
                                    "rate": "0.08375", "ledgerAccount": {"code": "2210"}}
    revenue = await builders.revenue_account(admin)
    for change, code, field in (({"rate": "1.5"}, "INVALID_INPUT", "rate"),
                                ({"ledgerAccountId": revenue}, "UNKNOWN_LEDGER_ACCOUNT", "ledgerAccountId")):
        assert await _errors(admin, "updateTaxRate", UPDATE_TAX, {"input": {"id": rate, **change}}) == [
            {"code": code, "field": field}]
    listed = (await admin.ok("{ taxRates { nodes { location name rate ledgerAccount { code } } } }"))
    assert listed["taxRates"]["nodes"] == [{"location": "TX-AUSTIN", "name": "Austin sales tax", "rate": "0.08375",
                                            "ledgerAccount": {"code": "2210"}}]
