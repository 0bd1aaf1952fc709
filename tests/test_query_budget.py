"""N+1 guards: the query count of a nested page does not grow with the page size."""

from tests.support import builders
from tests.support.api import Api
from tests.support.queries import count_queries

TREE = """query($first: Int!) { accounts(first: $first) { totalCount edges { node { number
  contracts { number account { number } charges { description revenueAccount { code }
    datedPrices { periodicPrice charge { description } } } } } } } }"""


async def _customers(admin: Api, count: int) -> None:
    revenue = await builders.revenue_account(admin)
    for i in range(count):
        account = await builders.account(admin, f"C-{i:03}")
        for j in range(2):
            contract = await builders.contract(admin, account, f"SC-{i:03}-{j}")
            for k in range(2):
                charge = await builders.charge(admin, contract, "10.00", revenue, f"charge {k}")
                await builders.dated_price(admin, charge, "2026-02-01", None, "12.00")


async def test_accounts_contracts_charges_prices_cost_a_fixed_number_of_queries(admin: Api) -> None:
    await _customers(admin, 12)
    counts = {}
    for size in (2, 12):
        with count_queries() as log:
            data = await admin.ok(TREE, {"first": size})
        assert len(data["accounts"]["edges"]) == size
        assert sum(len(e["node"]["contracts"]) for e in data["accounts"]["edges"]) == 2 * size
        counts[size] = log.count
    assert counts[2] == counts[12], counts
    # token lookup, page, total, contracts, accounts, charges, revenue accounts, dated prices, charges
    assert counts[12] <= 10, counts
