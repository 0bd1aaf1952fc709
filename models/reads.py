"""Set-based reads of batch work's inputs, one function per need, each right for its dialect, both giving the same
rows (tuples in the documented column order, dates as `date`, money as `Decimal`, enums as enums).

PostgreSQL: one raw statement per table with the ids sent once as an array (`= ANY($1)`), read straight into
asyncpg records, not through the ORM's per-row building nor a 1,000-value `IN (…)` list built per query.
SQLite (the embedded default, small data): the same reads through the ORM. Both read on the caller's
connection, inside its transaction when there is one.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise import connections
from tortoise.expressions import RawSQL, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.billing import PeriodicBilling
from models.bulk import is_postgres
from models.enums import BillingFrequency, BillingStatus
from models.master import Account, DatedPrice, RecurringCharge, SalesContract, ServiceChange, TaxRate

Rows = Sequence[Sequence[Any]]
M = TypeVar("M", bound=Model)
BIGINT = 2 ** 63
AMONG = "_among"  # the name of `among`'s condition in the query (also read back, as True, on its rows)


def among(query: QuerySet[M], field: str, keys: Sequence[int]) -> QuerySet[M]:
    """`query` narrowed to the rows whose integer column `field` (`id`, a foreign key's `…_id`) is one of `keys`.

    On PostgreSQL one `= ANY('{…}'::bigint[])` condition, the keys written into it as integers, however many they
    are: not the ORM's `IN ($1, …, $n)`, which builds, parameterizes and renders a term per key (a page's
    DataLoaders send hundreds). Elsewhere (SQLite) the ORM's `__in`. The query keeps its other conditions (the
    viewer's scope) and its order; its rows carry `_among` (True) beside their fields."""
    if not is_postgres(connections.get("default")) or not all(
            key.__class__ is int and -BIGINT <= key < BIGINT for key in keys):
        return query.filter(**{f"{field}__in": list(keys)})
    meta = query.model._meta
    column = meta.fields_db_projection[field]
    array = ",".join(map(str, keys))  # integers only (checked above): nothing but digits reaches the SQL
    condition = RawSQL(f'"{meta.db_table}"."{column}" = ANY(\'{{{array}}}\'::bigint[])')
    return query.annotate(**{AMONG: condition}).filter(**{AMONG: True})


@dataclass
class ContractRows:
    """What pricing reads about some contracts, each list in its documented column order."""

    contracts: Rows  # id, account_id, frequency, start_date, end_date, billing_anchor
    charges: Rows  # id, contract_id, description, periodic_price, quantity, revenue_account_id (by id)
    dated_prices: Rows  # id, charge_id, first_effective_date, last_effective_date, periodic_price (by first date)
    service_changes: Rows  # id, charge_id, effective_date, new_price, billed_on_id (by effective date)
    billed_starts: Rows  # contract_id, period_start of their billings not REJECTED


_CONTRACTS = ("SELECT id, account_id, frequency, start_date, end_date, billing_anchor FROM sales_contract "
              "WHERE id = ANY($1::int[])")
_CHARGES = ("SELECT id, contract_id, description, periodic_price, quantity, revenue_account_id FROM recurring_charge "
            "WHERE contract_id = ANY($1::int[]) ORDER BY id")
_OF_CHARGES = "charge_id IN (SELECT id FROM recurring_charge WHERE contract_id = ANY($1::int[]))"
_DATED = ("SELECT id, charge_id, first_effective_date, last_effective_date, periodic_price FROM dated_price "
          f"WHERE {_OF_CHARGES} ORDER BY first_effective_date, id")
_CHANGES = ("SELECT id, charge_id, effective_date, new_price, billed_on_id FROM service_change "
            f"WHERE {_OF_CHARGES} ORDER BY effective_date, id")
_BILLED = ("SELECT contract_id, period_start FROM periodic_billing WHERE contract_id = ANY($1::int[]) "
           "AND status <> 'REJECTED'")


async def contract_rows(contract_ids: Sequence[int]) -> ContractRows:
    """The contracts, their charges, the charges' dated prices and service changes, and the period starts the
    contracts were already billed for (five statements, whatever the number of contracts)."""
    conn = connections.get("default")
    ids = list(contract_ids)
    if is_postgres(conn):
        async with conn.acquire_connection() as raw:
            contracts = [(r[0], r[1], BillingFrequency(r[2]), r[3], r[4], r[5])
                         for r in await raw.fetch(_CONTRACTS, ids)]
            return ContractRows(contracts, await raw.fetch(_CHARGES, ids), await raw.fetch(_DATED, ids),
                                await raw.fetch(_CHANGES, ids), await raw.fetch(_BILLED, ids))
    charges = await RecurringCharge.filter(contract_id__in=ids).order_by("id").values_list(
        "id", "contract_id", "description", "periodic_price", "quantity", "revenue_account_id")
    charge_ids = [c[0] for c in charges]
    return ContractRows(
        await SalesContract.filter(id__in=ids).values_list(
            "id", "account_id", "frequency", "start_date", "end_date", "billing_anchor"),
        charges,
        await DatedPrice.filter(charge_id__in=charge_ids).order_by("first_effective_date", "id").values_list(
            "id", "charge_id", "first_effective_date", "last_effective_date", "periodic_price"),
        await ServiceChange.filter(charge_id__in=charge_ids).order_by("effective_date", "id").values_list(
            "id", "charge_id", "effective_date", "new_price", "billed_on_id"),
        await PeriodicBilling.filter(contract_id__in=ids).exclude(status=BillingStatus.REJECTED).values_list(
            "contract_id", "period_start"))


_ACCOUNTS = "SELECT id, tax_location, currency FROM account WHERE id = ANY($1::int[])"
_RATES = ("SELECT location, rate, ledger_account_id FROM tax_rate WHERE location IN "
          "(SELECT tax_location FROM account WHERE id = ANY($1::int[]))")


async def account_rows(account_ids: Sequence[int]) -> tuple[Rows, Rows]:
    """(id, tax_location, currency) of the accounts, and (location, rate, ledger_account_id) of the tax rates of
    their locations (two statements)."""
    conn = connections.get("default")
    ids = list(account_ids)
    if is_postgres(conn):
        async with conn.acquire_connection() as raw:
            return await raw.fetch(_ACCOUNTS, ids), await raw.fetch(_RATES, ids)
    accounts = await Account.filter(id__in=ids).values_list("id", "tax_location", "currency")
    locations = list({location for _, location, _ in accounts})
    return accounts, await TaxRate.filter(location__in=locations).values_list("location", "rate",
                                                                              "ledger_account_id")


@dataclass
class SubjectRows:
    """What the disposition rules read about some billings, each list in its documented column order."""

    billings: Rows  # id, status, contract_id, period_start, batch status (None outside a batch), amount,
    #                 account currency, last_edited_by_id, version (by id)
    siblings: Rows  # id, contract_id, period_start, status, amount of every billing of their contracts


_SUBJECTS = ("SELECT p.id, p.status, p.contract_id, p.period_start, b.status, p.amount, a.currency, "
             "p.last_edited_by_id, p.version FROM periodic_billing AS p JOIN account AS a ON a.id = p.account_id "
             "LEFT JOIN billing_batch AS b ON b.id = p.batch_id WHERE p.id = ANY($1::int[]) ORDER BY p.id")
_SIBLINGS = ("SELECT id, contract_id, period_start, status, amount FROM periodic_billing WHERE contract_id IN "
             "(SELECT contract_id FROM periodic_billing WHERE id = ANY($1::int[]))")


async def subject_rows(billings: QuerySet[PeriodicBilling]) -> SubjectRows:
    """The rule inputs of the billings `billings` selects (already scoped and filtered): their own columns and
    those of every billing of their contracts. Statuses come back as the enums' values (text), so the caller
    converts them once. PostgreSQL: the ids through the ORM (the scope is the queryset's), then two raw
    statements with them as one array; SQLite: two ORM reads."""
    conn = connections.get("default")
    if is_postgres(conn):
        ids = list(await billings.values_list("id", flat=True))
        async with conn.acquire_connection() as raw:
            return SubjectRows(await raw.fetch(_SUBJECTS, ids), await raw.fetch(_SIBLINGS, ids))
    rows = await billings.order_by("id").values_list(
        "id", "status", "contract_id", "period_start", "batch__status", "amount", "account__currency",
        "last_edited_by_id", "version")
    siblings = await PeriodicBilling.filter(contract_id__in=Subquery(billings.values("contract_id"))).values_list(
        "id", "contract_id", "period_start", "status", "amount")
    return SubjectRows([(r[0], _value(r[1]), *r[2:4], _value(r[4]), *r[5:]) for r in rows],
                       [(*r[:3], _value(r[3]), r[4]) for r in siblings])


def _value(status: Any) -> Any:
    """An enum's value (None stays None): the ORM gives enums, the raw reads text."""
    return getattr(status, "value", status)
