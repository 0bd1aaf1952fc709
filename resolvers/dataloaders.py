"""DataLoaders, one per relation, named by key and built per request (never shared between viewers).

Children of a visible parent share its account, so loaders by parent id need no extra scope; loaders by
id go through `domain.access.visible` like every other lookup.
"""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader
from tortoise.models import Model

import models
from domain.access import Viewer, visible


def by_id_loader(viewer: Viewer, model: type[Model]) -> DataLoader[int, Any]:
    async def load(ids: Sequence[int]) -> list[Any]:
        rows = {row.id: row for row in await visible(viewer, model).filter(id__in=list(ids))}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


def children_loader(viewer: Viewer, model: type[Model], parent_field: str,
                    order: tuple[str, ...] = ("id",), scoped: bool = True) -> DataLoader[int, list[Any]]:
    async def load(parent_ids: Sequence[int]) -> list[list[Any]]:
        groups: dict[int, list[Any]] = defaultdict(list)
        rows = visible(viewer, model) if scoped else model.all()
        query = rows.filter(**{f"{parent_field}__in": list(parent_ids)}).order_by(*order)
        for row in await query:
            groups[getattr(row, parent_field)].append(row)
        return [groups.get(i, []) for i in parent_ids]

    return DataLoader(load_fn=load)


class Loaders:
    """All loaders of one request, created lazily."""

    def __init__(self, viewer: Viewer | None) -> None:
        self._viewer = viewer
        self._cache: dict[str, DataLoader] = {}

    def _get(self, name: str, factory) -> DataLoader:
        if name not in self._cache:
            if self._viewer is None:
                raise PermissionError("Loaders need an authenticated viewer")
            self._cache[name] = factory(self._viewer)
        return self._cache[name]

    @property
    def account_by_id(self) -> DataLoader[int, Any]:
        return self._get("account_by_id", lambda v: by_id_loader(v, models.Account))

    @property
    def contract_by_id(self) -> DataLoader[int, Any]:
        return self._get("contract_by_id", lambda v: by_id_loader(v, models.SalesContract))

    @property
    def charge_by_id(self) -> DataLoader[int, Any]:
        return self._get("charge_by_id", lambda v: by_id_loader(v, models.RecurringCharge))

    @property
    def ledger_account_by_id(self) -> DataLoader[int, Any]:
        return self._get("ledger_account_by_id", lambda v: by_id_loader(v, models.LedgerAccount))

    @property
    def user_by_id(self) -> DataLoader[int, Any]:
        return self._get("user_by_id", lambda v: by_id_loader(v, models.User))

    @property
    def contracts_by_account_id(self) -> DataLoader[int, list[Any]]:
        return self._get("contracts_by_account_id",
                         lambda v: children_loader(v, models.SalesContract, "account_id", ("number", "id")))

    @property
    def charges_by_contract_id(self) -> DataLoader[int, list[Any]]:
        return self._get("charges_by_contract_id",
                         lambda v: children_loader(v, models.RecurringCharge, "contract_id"))

    @property
    def dated_prices_by_charge_id(self) -> DataLoader[int, list[Any]]:
        return self._get("dated_prices_by_charge_id",
                         lambda v: children_loader(v, models.DatedPrice, "charge_id", ("first_effective_date", "id")))

    @property
    def grantees_by_account_id(self) -> DataLoader[int, list[Any]]:
        return self._get("grantees_by_account_id",
                         lambda v: children_loader(v, models.AccountGrant, "account_id", scoped=False))
