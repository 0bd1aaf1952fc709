"""The bridge between Relay nodes and Tortoise rows: a model row is the root value of its GraphQL type."""

from collections.abc import Iterable
from typing import Any, ClassVar

from strawberry import relay
from tortoise.models import Model

from models.rows import Row
from resolvers.nodes import load_nodes
from resolvers.relations import CtxInfo


class ModelNode(relay.Node):
    """A Node whose values are rows of `model`; fields read the row's attributes directly.

    `node(id)` resolves through the viewer's scope, so hidden rows read as null, like absent ones. A page's lines
    and audit rows come as `models.rows.Row`s (values, no model instances).
    """

    model: ClassVar[type[Model]]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (cls, cls.model)) or (isinstance(obj, Row) and obj.model is cls.model)

    @classmethod
    async def resolve_nodes(cls, *, info: CtxInfo, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        return await load_nodes(info, cls.model, node_ids)
