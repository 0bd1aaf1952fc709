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
    InlineFragmentNode,
    NoSchemaIntrospectionCustomRule,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
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


def _is_connection(field: FieldNode) -> bool:
    return any(isinstance(s, FieldNode) and s.name.value in ("edges", "nodes")
               for s in (field.selection_set.selections if field.selection_set else ()))


def selection_cost(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode],
                   variables: dict[str, Any], seen: frozenset[str] = frozenset()) -> int:
    """Each field costs 1, and its subtree is multiplied by the page it asks for (`first`/`last`)."""
    if selection_set is None:
        return 0
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            size = _page_size(node, variables)
            if size is None and _is_connection(node):
                size = DEFAULT_PAGE_SIZE
            total += 1 + max(size or 1, 1) * selection_cost(node.selection_set, fragments, variables, seen)
        elif isinstance(node, InlineFragmentNode):
            total += selection_cost(node.selection_set, fragments, variables, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                total += selection_cost(fragment.selection_set, fragments, variables, seen | {node.name.value})
    return total


def cost_rule(variables: dict[str, Any], limit: int) -> type[ValidationRule]:
    class QueryCostRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            fragments = {d.name.value: d for d in self.context.document.definitions
                         if isinstance(d, FragmentDefinitionNode)}
            cost = selection_cost(node.selection_set, fragments, variables)
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
    """Mask only unexpected exceptions; validation, auth and bad-request errors reach the client as they are."""
    return is_unexpected(error)
