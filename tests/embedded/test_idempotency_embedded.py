"""Safe retries on the embedded default: the same mechanism on SQLite, and the in-process purge of old keys."""

import asyncio
from datetime import UTC, datetime, timedelta

import models
from tests.support.api import Api

CREATE_BATCH = """mutation($input: CreateBillingBatchInput!) { createBillingBatch(input: $input) {
  billingBatch { id name } errors { code field message } } }"""


async def test_concurrent_retries_get_one_response_on_sqlite(admin: Api) -> None:
    await admin.mutate("createAccountingPeriod", """mutation { createAccountingPeriod(input: {month: "2026-05-01"})
      { accountingPeriod { id } errors { code } } }""")
    request = {"input": {"name": "May run", "invoiceDate": "2026-05-01", "idempotencyKey": "k"}}
    responses = await asyncio.gather(*(admin.raw(CREATE_BATCH, request) for _ in range(5)))
    assert len({r.content for r in responses}) == 1
    assert responses[0].json()["data"]["createBillingBatch"]["errors"] == []
    assert await models.BillingBatch.all().count() == 1
    other = (await admin(CREATE_BATCH, {"input": {**request["input"], "name": "June run"}})).data
    assert [e["code"] for e in other["createBillingBatch"]["errors"]] == ["IDEMPOTENCY_KEY_MISMATCH"]


async def test_the_embedded_default_purges_expired_keys_on_its_schedule() -> None:
    """The in-process worker runs the purge with the sweeper, every BILLRUN_SWEEP_INTERVAL_SECONDS (1 s here)."""
    from workers.embedded import in_process_worker

    long_ago = datetime.now(UTC) - timedelta(days=2)
    await models.IdempotencyRecord.create(caller="token:1", key="old", operation="createBillingBatch",
                                          request_hash="0" * 64, response="{}", expires_at=long_ago)
    async with in_process_worker():
        deadline = asyncio.get_running_loop().time() + 30
        while await models.IdempotencyRecord.exists():
            assert asyncio.get_running_loop().time() < deadline, "the embedded default never purged the key"
            await asyncio.sleep(0.1)
