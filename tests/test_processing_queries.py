"""A processing chunk costs a fixed number of SQL statements, whatever its size (never one per contract)."""

from strawberry.relay import from_base64
from tortoise.transactions import in_transaction

import models
from domain import processing
from tests.support import billing, builders
from tests.support.api import Api
from tests.support.queries import count_queries


async def test_chunk_query_count_does_not_grow_with_its_size(admin: Api) -> None:
    accounts = await billing.books(admin)
    contract_ids = []
    for i in range(24):
        account = await builders.account(admin, f"Q-{i:02}", taxLocation="TX-AUSTIN")
        contract = await builders.contract(admin, account, f"SC-Q{i:02}", start="2026-04-01")
        await builders.charge(admin, contract, "10.00", accounts["revenue"])
        charge = await builders.charge(admin, contract, "20.00", accounts["revenue"])
        await builders.dated_price(admin, charge, "2026-05-01", None, "25.00")
        contract_ids.append(int(from_base64(contract)[1]))
    batch = await models.BillingBatch.get(id=int(from_base64(await billing.batch(admin))[1]))
    counts = {}
    for ids in (contract_ids[:4], contract_ids[4:]):
        with count_queries() as log:
            async with in_transaction() as tx:
                inputs = await processing.load_inputs(batch, contract_ids=ids)
                written = await processing.write_drafts(tx, batch, processing.price(batch, inputs))
        assert written == 2 * len(ids)  # April and May
        counts[len(ids)] = log.count
    assert counts[4] == counts[20], counts
