"""The hardened edge: depth, alias, token and cost limits, and which errors a client may see.

Each limit is a named setting (BILLRUN_MAX_QUERY_DEPTH, _MAX_ALIASES, _MAX_TOKENS, _MAX_QUERY_COST).
"""

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    GraphQLType,
    InlineFragmentNode,
    IntValueNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError, InvalidGlobalIDError

from billrun.settings import get_settings
from resolvers.pagination import DEFAULT_PAGE_SIZE, BadRequest


def _page_size(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value in ("first", "last"):
            if isinstance(arg.value, IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, VariableNode):
                value = variables.get(arg.value.name.value)
                return int(value) if isinstance(value, int) else DEFAULT_PAGE_SIZE
    return None


# A plain list field (not a connection) is assumed to hold this many items when its subtree is costed.
LIST_SIZE_ESTIMATE = 5


def _field_type(parent: GraphQLNamedType | None, name: str) -> GraphQLType | None:
    fields = getattr(parent, "fields", None)
    return fields[name].type if fields and name in fields else None


def selection_cost(selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None,
                   schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
                   seen: frozenset[str] = frozenset()) -> int:
    """Each field costs 1; its subtree is multiplied by the page it asks for (`first`/`last`, else the default
    page size on a connection) or, for a plain list, by LIST_SIZE_ESTIMATE."""
    if selection_set is None:
        return 0
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            field_type = _field_type(parent, node.name.value)
            named = get_named_type(field_type) if field_type is not None else None
            size = _page_size(node, variables)
            if size is None and named is not None and named.name.endswith("Connection"):
                size = DEFAULT_PAGE_SIZE
            if size is None and field_type is not None and is_list_type(get_nullable_type(field_type)):
                size = LIST_SIZE_ESTIMATE
            children = selection_cost(node.selection_set, named, schema, fragments, variables, seen)
            total += 1 + max(size or 1, 1) * children
        elif isinstance(node, InlineFragmentNode):
            narrowed = schema.get_type(node.type_condition.name.value) if node.type_condition else parent
            total += selection_cost(node.selection_set, narrowed, schema, fragments, variables, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                narrowed = schema.get_type(fragment.type_condition.name.value)
                total += selection_cost(fragment.selection_set, narrowed, schema, fragments, variables,
                                        seen | {node.name.value})
    return total


def cost_rule(variables: dict[str, Any], limit: int) -> type[ValidationRule]:
    class QueryCostRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            schema = self.context.schema
            fragments = {d.name.value: d for d in self.context.document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            root = schema.get_root_type(node.operation)
            cost = selection_cost(node.selection_set, root, schema, fragments, variables)
            if cost > limit:
                self.report_error(GraphQLError(
                    f"Query cost {cost} exceeds the limit of {limit}: ask for smaller pages or fewer fields.",
                    node, extensions={"code": "QUERY_TOO_COSTLY"}))

    return QueryCostRule


class QueryCostLimiter(SchemaExtension):
    """Refuses, before execution, an operation whose estimated cost exceeds BILLRUN_MAX_QUERY_COST."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        rule = cost_rule(ctx.variables or {}, get_settings().max_query_cost)
        ctx.validation_rules = (*ctx.validation_rules, rule)
        yield


class IntrospectionOffInProduction(SchemaExtension):
    """With BILLRUN_ENV=production, refuse introspection queries (GraphiQL is off there too)."""

    def on_validate(self) -> Iterator[None]:
        if get_settings().production:
            ctx = self.execution_context
            ctx.validation_rules = (*ctx.validation_rules, NoSchemaIntrospectionCustomRule)
        yield


CLIENT_ERRORS = (BadRequest, GlobalIDValueError, InvalidGlobalIDError)


def is_unexpected(error: GraphQLError) -> bool:
    """A bug, as opposed to a bad request: an exception that is neither a GraphQL nor a client error."""
    original = error.original_error
    return original is not None and not isinstance(original, (GraphQLError, *CLIENT_ERRORS))


def should_mask_error(error: GraphQLError) -> bool:
    """Mask only unexpected exceptions: validation, auth and bad-request errors reach the client as is."""
    return is_unexpected(error)
