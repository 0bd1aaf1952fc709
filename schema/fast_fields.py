"""Plain fields resolved by graphql-core directly, without strawberry's per-field wrapping.

Strawberry calls a field without a resolver with a bare attribute read, but every field *with* one through a
chain that builds its `Info`, converts its arguments and applies field extensions: 10 to 15 µs a field, most of a
grid page's time (docs/PERFORMANCE.md). For fields that need none of it, `install` gives graphql-core a
resolver of its own once the schema is built:
- a resolver of the parent alone (`def f(row)` / `def f(self)`, no arguments, no `info`): called as `f(row)`;
- a resolver marked `relations.direct` (reads only `info.context`): called as `f(row, info)`;
- the `id` of a ModelNode type whose id is the row's `id`: the global id built at once;
- a field without a resolver: the attribute read, without strawberry's two calls around it.
A field with permission classes or field extensions, or with arguments, keeps strawberry's path.
"""

from collections.abc import Callable
from functools import lru_cache
from typing import Any, cast

from graphql import GraphQLObjectType
from strawberry import relay
from strawberry.relay.utils import to_base64
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from schema.node import ModelNode


@lru_cache(maxsize=100_000)
def global_id(type_name: str, pk: int) -> str:
    """Relay's global id of a row (`to_base64`), remembered: a page names the same few thousand rows on every read,
    and a look-up costs a tenth of the encoding."""
    return to_base64(type_name, pk)


def _global_id(type_name: str) -> Callable[[Any, Any], str]:
    def resolve(row: Any, _info: Any) -> str:
        return global_id(type_name, row.id)
    resolve.plan = ("global_id", type_name)  # type: ignore[attr-defined]  # read by schema/compiled_plans.py
    return resolve


def _attribute(name: str) -> Callable[[Any, Any], Any]:
    def resolve(row: Any, _info: Any) -> Any:
        return getattr(row, name)
    resolve.plan = ("attribute", name)  # type: ignore[attr-defined]  # read by schema/compiled_plans.py
    return resolve


def _of_parent(function: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    def resolve(row: Any, _info: Any) -> Any:
        return function(row)
    resolve.plan = ("parent", function)  # type: ignore[attr-defined]  # read by schema/compiled_plans.py
    return resolve


def _fast(field: StrawberryField, name: str, definition: StrawberryObjectDefinition) -> Callable[..., Any] | None:
    if field.permission_classes or field.extensions or field.arguments:
        return None
    origin = definition.origin
    if name == "id" and isinstance(origin, type) and issubclass(origin, ModelNode):
        own = getattr(origin.resolve_id, "__func__", None)
        return _global_id(definition.name) if own is getattr(relay.Node.resolve_id, "__func__", None) else None
    resolver = field.base_resolver
    if resolver is None:
        return _attribute(field.python_name) if field.default_resolver is getattr else None
    function = cast(Callable[..., Any], resolver.wrapped_func)
    if getattr(function, "direct", False):
        return function
    if resolver.info_parameter is None and not resolver.arguments and not resolver.is_async \
            and (resolver.self_parameter or resolver.parent_parameter or resolver.root_parameter):
        return _of_parent(function)
    return None


def install(schema: Any) -> int:
    """Give graphql-core the direct resolvers of every eligible field; returns how many."""
    count = 0
    for name, core_type in schema._schema.type_map.items():
        definition = schema.get_type_by_name(name)
        if not isinstance(core_type, GraphQLObjectType) or not isinstance(definition, StrawberryObjectDefinition):
            continue
        for field in definition.fields:
            field_name = schema.config.name_converter.get_graphql_name(field)
            core_field = core_type.fields.get(field_name)
            resolve = _fast(field, field_name, definition) if core_field is not None else None
            if resolve is not None and core_field is not None:
                core_field.resolve = resolve
                count += 1
    return count
