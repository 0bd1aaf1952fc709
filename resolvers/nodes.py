"""`node(id)` / `nodes(ids)`: every lookup by global id goes through the viewer's scope."""

from collections.abc import Iterable
from typing import Any

from tortoise.models import Model

from domain.access import visible
from resolvers.relations import CtxInfo


async def load_nodes(info: CtxInfo, model: type[Model], node_ids: Iterable[str]) -> list[Any]:
    """Rows for these ids in order, None where absent or hidden (both read as not found)."""
    viewer = info.context.viewer
    ids: list[int | None] = []
    for raw in node_ids:
        try:
            ids.append(int(raw))
        except ValueError:
            ids.append(None)
    if viewer is None:
        return [None] * len(ids)
    wanted = [i for i in ids if i is not None]
    rows = {row.pk: row for row in await visible(viewer, model).filter(id__in=wanted)} if wanted else {}
    return [rows.get(i) if i is not None else None for i in ids]
