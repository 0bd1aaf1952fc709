"""`node(id)` / `nodes(ids)`: every lookup by global id goes through the viewer's scope."""

from collections.abc import Iterable
from typing import Any

from tortoise.models import Model

from domain.access import visible
from resolvers.inputs import node_pk
from resolvers.relations import CtxInfo


async def load_nodes(info: CtxInfo, model: type[Model], node_ids: Iterable[str]) -> list[Any]:
    """Rows for these ids in order, None where absent or hidden (both read as not found), and where the id is
    no id of this model's key (a node id out of its range never reaches the database)."""
    viewer = info.context.viewer
    maximum = model._meta.pk.constraints.get("le", 2**31 - 1)
    ids = [node_pk(raw, maximum) for raw in node_ids]
    if viewer is None:
        return [None] * len(ids)
    wanted = [i for i in ids if i is not None]
    rows = {row.pk: row for row in await visible(viewer, model).filter(id__in=wanted)} if wanted else {}
    return [rows.get(i) if i is not None else None for i in ids]
