"""A page's relations loaded in bulk before execution reaches them, level by level.

A connection resolver calls `prefetch_page(info, rows)` once it has its page. It reads the selection under
`edges { node { … } }` and `nodes { … }` (fragments included) and, for every selected field whose resolver
carries a `prefetch` plan (resolvers/relations.py: `to_one`, `to_many`, …), loads the relation of all the rows at
once through the request's DataLoaders — the same loaders, so the same scope — then does the same one level
down with the related rows. When execution then reaches those fields, their resolvers find the values loaded
and answer synchronously: the page completes without a per-field await. Loading is keyed by field name only;
`@skip`/`@include` are not evaluated, so at worst a relation the response leaves out is loaded.
"""

import asyncio
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
)

from resolvers.relations import CtxInfo

MAX_LEVELS = 6  # the depth limit bounds documents anyway; this bounds the walk on its own


def _fields(info: GraphQLResolveInfo, selection_set: SelectionSetNode | None, into: dict[str, list[FieldNode]],
            seen: frozenset[str] = frozenset()) -> dict[str, list[FieldNode]]:
    """The fields of a selection set by name, fragments flattened (each fragment once per path)."""
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            into.setdefault(selection.name.value, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            _fields(info, selection.selection_set, into, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = info.fragments.get(selection.name.value)
            if fragment is not None:
                _fields(info, fragment.selection_set, into, seen | {selection.name.value})
    return into


def _children(info: GraphQLResolveInfo, nodes: list[FieldNode]) -> dict[str, list[FieldNode]]:
    found: dict[str, list[FieldNode]] = {}
    for node in nodes:
        _fields(info, node.selection_set, found)
    return found


async def _level(info: GraphQLResolveInfo, loaders: Any, object_type: GraphQLObjectType, rows: list[Any],
                 selected: dict[str, list[FieldNode]], depth: int) -> None:
    if not rows or depth > MAX_LEVELS:
        return
    plans = []
    for name, nodes in selected.items():
        field = object_type.fields.get(name)
        plan = getattr(field.resolve, "prefetch", None) if field is not None else None
        if field is not None and plan is not None:
            plans.append((field, plan, nodes))
    # A load that fails leaves its error in the loader: the fields that need it report it, as without prefetching.
    related = await asyncio.gather(*(plan(loaders, rows) for _, plan, _ in plans), return_exceptions=True)
    deeper = []
    for (field, _, nodes), children in zip(plans, related, strict=True):
        child_type = get_named_type(field.type)
        if isinstance(child_type, GraphQLObjectType) and isinstance(children, list) and children:
            deeper.append(_level(info, loaders, child_type, children, _children(info, nodes), depth + 1))
    await asyncio.gather(*deeper)


async def prefetch_page(info: CtxInfo, rows: list[Any]) -> None:
    """Load the selected relations of a connection's page (its `edges.node` and `nodes`) in bulk."""
    raw = info._raw_info
    if not rows or info.context.viewer is None:
        return
    connection = get_named_type(raw.return_type)
    if not isinstance(connection, GraphQLObjectType) or "edges" not in connection.fields:
        return
    edge = get_named_type(connection.fields["edges"].type)
    node_type = get_named_type(edge.fields["node"].type) if isinstance(edge, GraphQLObjectType) else None
    if not isinstance(node_type, GraphQLObjectType):
        return  # a connection of an interface or union: its rows load as execution reaches them
    top = _children(raw, list(raw.field_nodes))
    nodes = [*top.get("nodes", []), *_children(raw, top.get("edges", [])).get("node", [])]
    await _level(raw, info.context.loaders, node_type, rows, _children(raw, nodes), 1)
