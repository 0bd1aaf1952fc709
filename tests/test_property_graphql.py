"""Property: no operation the schema allows, with any argument values, is a bug.

`hypothesis-graphql` generates valid queries and mutations from `schema.graphql` (and some with one schema
violation), with argument values mixing real global ids of the seeded records, ids billrun never makes, loose
money, dates and datetimes, and arbitrary text (NUL included). Each runs against the ASGI app as an admin or as a
clerk. Every answer must be HTTP 200 or 400 with GraphQL errors that are not the masked bug, and every payload
error code a documented one. Seeded (`derandomize`), bounded in examples and without deadlines, so a run is
repeatable and takes about a minute.
"""

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries
from strawberry.relay import to_base64

from domain.errors import ErrorCode
from schema import schema
from tests.support import world
from tests.support.api import Api
from tests.support.worker import others_paused
from tests.test_bad_input import BAD_NODE_IDS, LOOSE_DECIMALS

SDL = (Path(__file__).resolve().parent.parent / "schema.graphql").read_text()
EXAMPLES = int(os.environ.get("BILLRUN_TEST_PROPERTY_EXAMPLES", "1200"))
# `logout` would end the run's own session; the rest may do anything to the seeded records.
MUTATION_FIELDS = [name for name in schema._schema.mutation_type.fields if name != "logout"]  # type: ignore[union-attr]
# Types whose small ids are the runners' own user and tokens: only the seeded other user's ids are fed.
ID_TYPES = ["Account", "SalesContract", "RecurringCharge", "DatedPrice", "LedgerAccount", "TaxRate",
            "AccountingPeriod", "WorkOrder", "ManualCharge", "ServiceChange", "InvoiceAdjustment", "BillingBatch",
            "PeriodicBilling", "BillingDetail", "Finding", "Notification", "Invoice", "Job", "Audit", "Export",
            "Delivery", "Nonsense"]
CODES = {code.value for code in ErrorCode}
OFFSETS = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(-dt.timedelta(hours=8))])


def _global_id(type_name: str, node_id: object) -> str:
    return to_base64(type_name, node_id)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each drawn about `weight` times as often as one of weight 1."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(lambda s: s)


def scalar_strategies(known_ids: tuple[str, ...]) -> dict[str, st.SearchStrategy]:
    """Value nodes for the scalars: mostly well-formed values (real ids of the seeded records), often edge cases,
    sometimes garbage; an operation with one value that does not coerce runs nothing, so garbage stays rare."""
    ids = weighted(
        (12, st.sampled_from(known_ids)),
        (2, st.builds(_global_id, st.sampled_from(ID_TYPES), st.integers(min_value=-5, max_value=2**40))),
        (2, st.builds(_global_id, st.sampled_from(ID_TYPES), st.sampled_from(BAD_NODE_IDS))),
        (1, st.text(max_size=12)),
    ).map(nodes.String)
    decimals = weighted(
        (6, st.decimals(min_value=-(10**13), max_value=10**13, places=2, allow_nan=False,
                        allow_infinity=False).map(lambda d: nodes.String(str(d)))),
        (2, st.decimals(min_value=0, max_value=2, places=5, allow_nan=False, allow_infinity=False).map(str).map(
            nodes.String)),
        (2, st.integers(min_value=-(10**20), max_value=10**20).map(nodes.Int)),
        (1, st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float)),
        (1, st.sampled_from([v for v in LOOSE_DECIMALS if isinstance(v, str)]).map(nodes.String)),
        (1, st.text(max_size=8).map(nodes.String)),
    )
    dates = weighted(
        (8, st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31)).map(dt.date.isoformat)),
        (2, st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2999, 12, 31)).map(dt.date.isoformat)),
        (1, st.dates().map(dt.date.isoformat)),
        (1, st.sampled_from(["20260101", "2026-W01-1", "0001-01-01", "9999-12-31", "2026-02-30", ""])),
        (1, st.text(max_size=10)),
    ).map(nodes.String)
    datetimes = weighted(
        (6, st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2040, 1, 1),
                         timezones=OFFSETS).map(dt.datetime.isoformat)),
        (1, st.datetimes().map(dt.datetime.isoformat)),  # naive, any year
        (1, st.text(max_size=25)),
    ).map(nodes.String)
    return {"ID": ids, "Decimal": decimals, "Date": dates, "DateTime": datetimes}


@lru_cache(maxsize=4)
def operations(known_ids: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Valid queries and mutations, and a few with one schema violation (Mode.NEGATIVE)."""
    custom = scalar_strategies(known_ids)
    return weighted(
        (4, queries(SDL, custom_scalars=custom)),
        (6, mutations(SDL, fields=MUTATION_FIELDS, custom_scalars=custom)),
        (1, queries(SDL, custom_scalars=custom, mode=Mode.NEGATIVE)),
        (1, mutations(SDL, fields=MUTATION_FIELDS, custom_scalars=custom, mode=Mode.NEGATIVE)),
    )


def _payload_codes(value: object) -> list[str]:
    """Every `code` of every `errors` list inside the data."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "errors" and isinstance(item, list):
                found += [e["code"] for e in item if isinstance(e, dict) and "code" in e]
            else:
                found += _payload_codes(item)
    elif isinstance(value, list):
        for item in value:
            found += _payload_codes(item)
    return found


def check_answer(operation: str, status: int, body: dict) -> None:
    assert status in (200, 400), (status, operation, body)
    for error in body.get("errors") or []:
        assert isinstance(error.get("message"), str) and error["message"], (operation, error)
        assert (error.get("extensions") or {}).get("code") != "INTERNAL_ERROR", (operation, error)
        assert not error["message"].startswith("Unexpected error"), (operation, error)
    assert set(_payload_codes(body.get("data"))) <= CODES, (operation, body)


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, print_blob=False,
          phases=[Phase.explicit, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                 HealthCheck.large_base_example])
@given(data=st.data())
async def test_no_generated_operation_is_a_bug(seeded: tuple[dict[str, str], Api, Api], data: st.DataObject) -> None:
    ids, admin, clerk = seeded
    operation = data.draw(operations(tuple(sorted(ids.values()))), label="operation")
    api = data.draw(st.sampled_from([admin, clerk]), label="caller")
    response = await api.raw(operation)
    check_answer(operation, response.status_code, response.json())


@pytest.fixture
async def seeded(worker: object, admin: Api, clerk: Api):
    """The world (it needs the worker to process and post), then no worker while operations run: whatever jobs
    they start stay queued and are dropped afterwards, so nothing of this test runs into the next one."""
    from workers.broker import broker

    ids = await world.build(admin)
    with others_paused():
        yield ids, admin, clerk
        broker.flush_all()
