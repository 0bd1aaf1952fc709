"""Safe to retry: the `idempotencyKey` of every state-changing mutation's input, and the one extension that
honours it (the rules are domain/idempotency.py's).

It works on the whole operation: a keyed operation holds exactly one mutation field, and what is stored is its
whole JSON response (data and errors as sent), replayed as is to a retry by the same bearer token. Nothing is
stored for a request that never ran (a malformed document, variables that do not coerce, a refused retry) or
that met a bug (a masked error). Fields marked `SECRET` are left out of what is stored: a replay answers null
there (the secret was shown once).
"""

import hashlib
import hmac
import inspect
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import strawberry
from graphql import ExecutionResult as CoreExecutionResult
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLFormattedError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    execute,
    get_named_type,
    print_ast,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from strawberry.extensions import SchemaExtension
from strawberry.http import process_result
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.base import StrawberryList, StrawberryObjectDefinition, StrawberryOptional
from strawberry.types.graphql import OperationType

from domain import idempotency
from domain.errors import DomainError, Problem
from resolvers.context import bearer_token
from schema.limits import is_unexpected

KEY_FIELD = idempotency.KEY_FIELD
SECRET = {"secret": True}  # field metadata: never stored for a replay


@strawberry.input(description="The envelope every state-changing mutation's input shares.")
class IdempotentInput:
    idempotency_key: str | None = strawberry.field(
        default=None, description="Makes the request safe to retry: sent again with the same key (by the same "
        "token, for at least 24 h), it answers the first response instead of running twice. A fresh random "
        "value (a UUID v4) per request, at most 200 characters.")


def _bad_request(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


class _Keyed:
    """The keyed mutation of an operation: its response key and field nodes, and the domain's request."""

    def __init__(self, response_key: str, field: list[FieldDetails], request: idempotency.Request) -> None:
        self.response_key, self.field, self.request = response_key, field, request


def _presented_token(context: Any) -> str:
    """The raw bearer token of the request (a WebSocket's comes in `connection_init`, as for authentication)."""
    params = getattr(context, "connection_params", None)
    header = params.get("Authorization", params.get("authorization")) if isinstance(params, dict) else None
    if not isinstance(header, str):
        connection = getattr(context, "connection", None)
        header = connection.headers.get("authorization") if connection is not None else None
    return bearer_token(header) or ""


def _fingerprint(ctx: ExecutionContext, operation: str) -> str:
    """The request as a whole (the key is in it, but two requests compared always share their key), keyed by
    the caller's raw token: a stored fingerprint cannot be used to guess a password sent in the request."""
    assert ctx.graphql_document is not None
    request = json.dumps([operation, ctx.operation_name, print_ast(ctx.graphql_document), ctx.variables or {}],
                         sort_keys=True, separators=(",", ":"))
    return hmac.new(_presented_token(ctx.context).encode(), request.encode(), hashlib.sha256).hexdigest()


def _keyed_mutation(ctx: ExecutionContext) -> tuple[_Keyed | None, Executor | None]:
    """The operation's keyed mutation, if it has one and a caller; raises a GraphQL error for a keyed operation
    that is not exactly one mutation, or a key that cannot be used. Anything that does not coerce is left to
    execution, which reports it without running a resolver."""
    if ctx.operation_type is not OperationType.MUTATION or ctx.graphql_document is None:
        return None, None
    core = ctx.schema._schema
    root = core.mutation_type
    executor = Executor.build(core, ctx.graphql_document, raw_variable_values=ctx.variables,
                              operation_name=ctx.operation_name)
    if root is None or isinstance(executor, list):
        return None, None
    fields = collect_fields(core, executor.fragments, executor.variable_values, root,
                            executor.operation).grouped_field_set
    mutations = {key: details for key, details in fields.items() if details[0].node.name.value != "__typename"}
    keys = []
    for response_key, details in mutations.items():
        definition = root.fields[details[0].node.name.value]
        if "input" not in definition.args:
            continue
        try:
            value = get_argument_values(definition, details[0].node, executor.variable_values).get("input")
        except GraphQLError:
            return None, None
        if isinstance(value, dict) and value.get(KEY_FIELD) is not None:
            keys.append((response_key, details, value[KEY_FIELD]))
    if not keys:
        return None, None
    if len(mutations) != 1:
        raise _bad_request(f"An operation with an `{KEY_FIELD}` must hold exactly one mutation field; this one holds "
                           f"{len(mutations)}. Send each keyed mutation as a request of its own.")
    (response_key, details, key), = keys
    if problem := idempotency.key_problem(key):
        raise _bad_request(problem)
    viewer = getattr(ctx.context, "viewer", None)
    if viewer is None:  # refused as unauthenticated by the field itself; there is no caller to store for
        return None, None
    operation = details[0].node.name.value
    request = idempotency.Request(caller=f"token:{viewer.token_id}", key=key, operation=operation,
                                  fingerprint=_fingerprint(ctx, operation))
    return _Keyed(response_key, details, request), executor


def _empty(definition: StrawberryObjectDefinition, name: str, type_: object) -> object:
    if isinstance(type_, StrawberryOptional):
        return None
    if isinstance(type_, StrawberryList):
        return []
    if type_ in (bool, int):
        return type_()  # False, 0
    raise TypeError(f"{definition.name}.{name} has no empty value: make it nullable or a list")


def refusal_payload(schema: strawberry.Schema, payload_type: GraphQLObjectType, problems: list[Problem]) -> object:
    """The mutation's payload with `errors` set and every other field null, empty or zero."""
    definition = schema.get_type_by_name(payload_type.name)
    assert isinstance(definition, StrawberryObjectDefinition)
    values = {field.python_name: _empty(definition, field.python_name, field.type)
              for field in definition.fields if field.base_resolver is None and field.python_name != "errors"}
    return definition.origin(**values, errors=problems)


async def _refusal(ctx: ExecutionContext, refusal: DomainError) -> CoreExecutionResult:
    """The operation executed with its mutation answering the refusal: valid for any selection set."""

    def answer_refusal(resolve: Any, root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        if info.path.prev is None and info.field_name != "__typename":
            payload_type = cast(GraphQLObjectType, get_named_type(info.return_type))  # a mutation's payload
            return refusal_payload(ctx.schema, payload_type, refusal.problems)
        return resolve(root, info, **args)

    assert ctx.graphql_document is not None
    result = execute(ctx.schema._schema, ctx.graphql_document, root_value=ctx.root_value, context_value=ctx.context,
                     variable_values=ctx.variables, operation_name=ctx.operation_name, middleware=[answer_refusal],
                     executor_class=ctx.schema.execution_context_class)
    return await result if inspect.isawaitable(result) else result


class _StoredError(GraphQLError):
    """An error of a stored response, formatted exactly as it was sent."""

    def __init__(self, formatted: dict[str, Any]) -> None:
        super().__init__(str(formatted.get("message", "")))
        self.stored = cast(GraphQLFormattedError, formatted)  # it was formatted by graphql-core when sent

    @property
    def formatted(self) -> GraphQLFormattedError:
        return self.stored


def _replayed(response: str) -> ExecutionResult:
    stored = json.loads(response)
    errors: list[GraphQLError] = [_StoredError(error) for error in stored.get("errors") or ()]
    return ExecutionResult(data=stored.get("data"), errors=errors or None)


def _without_secrets(ctx: ExecutionContext, executor: Executor, keyed: _Keyed, body: dict[str, Any]) -> None:
    """Null every SECRET field of the payload in the response to be stored (aliases and fragments included)."""
    payload = (body.get("data") or {}).get(keyed.response_key)
    root = ctx.schema._schema.mutation_type
    assert root is not None
    payload_type = get_named_type(root.fields[keyed.request.operation].type)
    if not isinstance(payload, dict) or not isinstance(payload_type, GraphQLObjectType):
        return
    subfields = collect_subfields(ctx.schema._schema, executor.fragments, executor.variable_values,
                                  executor.operation, payload_type, keyed.field).grouped_field_set
    for response_key, details in subfields.items():
        node: FieldNode = details[0].node
        field = payload_type.fields.get(node.name.value)
        strawberry_field = field.extensions.get("strawberry-definition") if field and field.extensions else None
        if strawberry_field is not None and strawberry_field.metadata.get("secret"):
            payload[response_key] = None


def _to_store(ctx: ExecutionContext, executor: Executor, keyed: _Keyed) -> str | None:
    """The response as sent, secrets left out; None when it must not be kept (a bug, or no result)."""
    result = ctx.result
    if not isinstance(result, CoreExecutionResult | ExecutionResult):
        return None
    if any(is_unexpected(error) for error in result.errors or ()):
        return None
    sent = process_result(result)
    body: dict[str, Any] = {"data": sent.get("data"), **({"errors": sent["errors"]} if sent.get("errors") else {})}
    try:
        body = json.loads(json.dumps(body))  # a copy to take secrets out of, and proof it is JSON
    except (TypeError, ValueError):
        return None
    _without_secrets(ctx, executor, keyed, body)
    return json.dumps(body, separators=(",", ":"))


class Idempotency(SchemaExtension):
    """Around execution: claim the key, or answer the stored response or a refusal without running anything;
    after a claimed run, store its response (or free the key when there is none worth keeping)."""

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        try:
            keyed, executor = _keyed_mutation(ctx)
        except GraphQLError as error:
            ctx.result = ExecutionResult(data=None, errors=[error])
            yield
            return
        if keyed is None or executor is None:
            yield
            return
        try:
            outcome = await idempotency.begin(keyed.request)
        except DomainError as refusal:
            ctx.result = await _refusal(ctx, refusal)
            yield
            return
        if isinstance(outcome, idempotency.Replay):
            ctx.result = _replayed(outcome.response)
            yield
            return
        try:
            yield
        except BaseException:
            await idempotency.release(outcome)
            raise
        response = _to_store(ctx, executor, keyed)
        if response is None:
            await idempotency.release(outcome)
        else:
            await idempotency.finish(outcome, response)
