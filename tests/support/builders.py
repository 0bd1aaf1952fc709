"""Build master data through the GraphQL API, as a client would (returns global ids)."""

from tests.support.api import Api

CREATE_LEDGER = """mutation($input: CreateLedgerAccountInput!) { createLedgerAccount(input: $input) {
  ledgerAccount { id code } errors { code field message } } }"""
CREATE_TAX = """mutation($input: CreateTaxRateInput!) { createTaxRate(input: $input) {
  taxRate { id location rate } errors { code field message } } }"""
CREATE_ACCOUNT = """mutation($input: CreateAccountInput!) { createAccount(input: $input) {
  account { id number currency } errors { code field message } } }"""
CREATE_CONTRACT = """mutation($input: CreateSalesContractInput!) { createSalesContract(input: $input) {
  salesContract { id number } errors { code field message } } }"""
CREATE_CHARGE = """mutation($input: CreateRecurringChargeInput!) { createRecurringCharge(input: $input) {
  recurringCharge { id periodicPrice } errors { code field message } } }"""
CREATE_DATED_PRICE = """mutation($input: CreateDatedPriceInput!) { createDatedPrice(input: $input) {
  datedPrice { id firstEffectiveDate lastEffectiveDate periodicPrice } errors { code field message } } }"""


async def revenue_account(admin: Api, code: str = "4000") -> str:
    payload = await admin.mutate("createLedgerAccount", CREATE_LEDGER,
                                 {"input": {"code": code, "name": f"Revenue {code}", "kind": "REVENUE"}})
    return payload["ledgerAccount"]["id"]


async def account(api: Api, number: str, **fields: object) -> str:
    data = {"number": number, "name": f"Customer {number}", "billGroup": "G1", "division": "D1",
            "taxLocation": "TX-AUSTIN", "billingEmail": f"{number.lower()}@example.com", **fields}
    payload = await api.mutate("createAccount", CREATE_ACCOUNT, {"input": data})
    return payload["account"]["id"]


async def contract(api: Api, account_id: str, number: str, start: str = "2026-01-01",
                   frequency: str = "MONTHLY", **fields: object) -> str:
    payload = await api.mutate("createSalesContract", CREATE_CONTRACT, {"input": {
        "accountId": account_id, "number": number, "frequency": frequency, "startDate": start, **fields}})
    return payload["salesContract"]["id"]


async def charge(api: Api, contract_id: str, price: str, revenue_account_id: str | None = None,
                 description: str = "Service") -> str:
    payload = await api.mutate("createRecurringCharge", CREATE_CHARGE, {"input": {
        "contractId": contract_id, "description": description, "periodicPrice": price,
        "revenueAccountId": revenue_account_id}})
    return payload["recurringCharge"]["id"]


async def dated_price(api: Api, charge_id: str, first: str, last: str | None, price: str) -> str:
    payload = await api.mutate("createDatedPrice", CREATE_DATED_PRICE, {"input": {
        "chargeId": charge_id, "firstEffectiveDate": first, "lastEffectiveDate": last, "periodicPrice": price}})
    return payload["datedPrice"]["id"]
