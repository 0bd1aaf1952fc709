"""The hardened edge: size, token, depth, alias, id-count and cost limits, and which errors a client may see.

Each limit is a named setting (BILLRUN_MAX_QUERY_BYTES, _MAX_TOKENS, _MAX_QUERY_DEPTH, _MAX_ALIASES, _MAX_NODES,
_MAX_QUERY_COST). The order is the point: a document is refused by size before it is parsed, by tokens while
it is parsed, and by one linear analysis (schema/query_analysis.py) before graphql-core's standard validation,
so no costly rule ever walks a refused document. All of it runs before any resolver, so a caller without a
token is refused exactly like one with a token.
"""

import copy
import logging
from collections import OrderedDict
from collections.abc import Iterator
from functools import lru_cache
from types import GeneratorType
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    NameNode,
    NoSchemaIntrospectionCustomRule,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableValues,
    get_operation_ast,
    get_variable_values,
    parse,
    validate,
)
from graphql import OperationType as CoreOperationType
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.relay.types import GlobalIDValueError, InvalidGlobalIDError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType
from tortoise.models import Model

from billrun.settings import Settings, get_settings
from resolvers.pagination import BadRequest
from schema import compiled_plans
from schema.query_analysis import QueryAnalysis

log = logging.getLogger("billrun.graphql")

MASKED_MESSAGE = "Unexpected error; it has been logged."
LOG_TEXT_LIMIT = 500  # characters of an exception message or path kept in the log
CEILING = 10**12  # measures are reported up to this; beyond it the exact figure says nothing more


def _shown(value: int) -> str:
    return str(value) if value <= CEILING else f"more than {CEILING:,}"


@lru_cache(maxsize=256)
def _parse(query: str, max_tokens: int | None) -> DocumentNode:
    """Parsing is cached by text (documents are read-only); errors are not cached, they are raised again."""
    return parse(query, max_tokens=max_tokens)


class ValidatedDocuments:
    """Documents that passed standard validation, by text and the validation's settings (production hides
    suggestions and refuses introspection), most recent last, at most `size`. Only passing documents are kept:
    a refused one is validated again, and answered with its errors, every time. The per-request limits
    (depth, aliases, repeats, ids, cost — the last two depend on the variables) run before this every time."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._valid: OrderedDict[tuple[str, bool, int], None] = OrderedDict()

    def passed(self, key: tuple[str, bool, int]) -> bool:
        if key in self._valid:
            self._valid.move_to_end(key)
            return True
        return False

    def remember(self, key: tuple[str, bool, int]) -> None:
        self._valid[key] = None
        if len(self._valid) > self.size:
            self._valid.popitem(last=False)


VALIDATED = ValidatedDocuments()


def _placeholder(ctx: ExecutionContext) -> DocumentNode:
    """A one-field document standing in for one that was refused before it could be parsed, so the refusal
    travels strawberry's ordinary pre-execution error path on every transport. It carries the requested
    operation name and an allowed operation type, so nothing else is reported in its place."""
    kind = OperationType.QUERY if OperationType.QUERY in ctx.allowed_operations else next(iter(ctx.allowed_operations))
    name = ctx.operation_name
    return DocumentNode(definitions=(OperationDefinitionNode(
        operation=CoreOperationType(kind.value), name=NameNode(value=name) if name else None, directives=(),
        variable_definitions=(), selection_set=SelectionSetNode(selections=(FieldNode(
            name=NameNode(value="__typename"), arguments=(), directives=()),))),))


def _coerced_variables(schema: GraphQLSchema, operation: OperationDefinitionNode | None,
                       raw: dict[str, Any] | None) -> VariableValues | None:
    """The operation's variables as execution will see them (defaults applied, floats like 500.0 made Int);
    None when they do not coerce, which execution reports before running anything."""
    if operation is None:
        return None
    try:
        coerced = get_variable_values(schema, operation.variable_definitions or (), raw or {}, max_errors=1)
    except Exception:  # reported by execution, never a crash here
        return None
    return coerced if isinstance(coerced, VariableValues) else None


def limit_errors(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None,
                 raw_variables: dict[str, Any] | None, settings: Settings) -> list[GraphQLError]:
    """Depth and aliases of every operation; id counts and cost of the one that will run (only its
    variables are known, and only it is executed). Variables that do not coerce stop execution before any
    resolver runs, so then only execution's own error is reported."""
    operation = get_operation_ast(document, operation_name)
    variables = _coerced_variables(schema, operation, raw_variables)
    analysis = QueryAnalysis(schema, document, variables)
    errors = []
    for definition, measure in analysis.operations:
        name = definition.name.value if definition.name else "anonymous"
        if measure.depth > settings.max_query_depth:
            errors.append(GraphQLError(f"'{name}' exceeds maximum operation depth of {settings.max_query_depth}",
                                       definition, extensions={"code": "QUERY_TOO_DEEP"}))
        if measure.aliases > settings.max_aliases:
            errors.append(GraphQLError(f"{_shown(measure.aliases)} aliases found. Allowed: {settings.max_aliases}",
                                       definition, extensions={"code": "TOO_MANY_ALIASES"}))
    repeated = analysis.most_repeated
    if repeated is not None and repeated.count > settings.max_field_repeats:
        errors.append(GraphQLError(
            f"`{repeated.key}` is selected {_shown(repeated.count)} times in one selection set; at most "
            f"{settings.max_field_repeats} (BILLRUN_MAX_FIELD_REPEATS): select it once.", repeated.node,
            extensions={"code": "TOO_MANY_REPEATS"}))
    if variables is None:
        return errors
    for ids in analysis.ids_counts:
        if ids.count > settings.max_nodes:
            errors.append(GraphQLError(
                f"`{ids.node.name.value}` takes at most {settings.max_nodes} ids (BILLRUN_MAX_NODES); "
                f"{ids.count} given.", ids.node, extensions={"code": "TOO_MANY_NODES"}))
    for definition, measure in analysis.operations:
        if definition is operation and measure.cost > settings.max_query_cost:
            errors.append(GraphQLError(
                f"Query cost {_shown(measure.cost)} exceeds the limit of {settings.max_query_cost}: ask for "
                "smaller pages or fewer fields.", definition, extensions={"code": "QUERY_TOO_COSTLY"}))
    return errors


class EdgeLimits(SchemaExtension):
    """Parses (cached) and validates every operation with the limits first; standard validation (cached for
    documents that passed it: `ValidatedDocuments`) runs only on a document within them, with the strawberry
    rules, introspection refused and suggestions hidden in production. It replaces strawberry's ParserCache,
    QueryDepthLimiter and MaxAliasesLimiter; the token limit stays MaxTokensLimiter's parser option."""

    def __init__(self) -> None:
        self.refusal: GraphQLError | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        limit = get_settings().max_query_bytes
        size = len((ctx.query or "").encode("utf-8", "surrogatepass"))
        if size > limit:
            self.refusal = GraphQLError(f"The document is {size} bytes, more than the limit of {limit} "
                                        "(BILLRUN_MAX_QUERY_BYTES).", extensions={"code": "QUERY_TOO_LARGE"})
        else:
            try:
                ctx.graphql_document = _parse(ctx.query or "", ctx.parse_options.get("max_tokens"))
            except GraphQLError as error:  # syntax errors and the token limit
                self.refusal = error
        if self.refusal is not None:
            ctx.graphql_document = _placeholder(ctx)
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if self.refusal is not None:
            ctx.pre_execution_errors = [self.refusal]
        else:
            assert ctx.graphql_document is not None
            settings = get_settings()
            core_schema = ctx.schema._schema
            errors = limit_errors(core_schema, ctx.graphql_document, ctx.operation_name, ctx.variables, settings)
            key = (ctx.query or "", settings.production, id(core_schema))
            if not errors and not VALIDATED.passed(key):
                rules = (*ctx.validation_rules, MaybeNullValidationRule, OneOfInputValidationRule)
                if settings.production:
                    rules = (*rules, NoSchemaIntrospectionCustomRule)
                errors = validate(core_schema, ctx.graphql_document, rules, hide_suggestions=settings.production)
                if not errors:
                    VALIDATED.remember(key)
            ctx.pre_execution_errors = errors  # set, even empty: strawberry then skips its own validation
        yield


_VALUE_TYPES: set[type] = set()  # types seen whose values are never awaitable (rows, str, Decimal, enums…)


def is_awaitable(value: Any) -> bool:
    """graphql-core's test, asked of every value it completes (22,000 times on a grid page), with two changes: a
    type already seen to be a plain value is answered with one set look-up, and a Tortoise row is a value, not an
    awaitable: `Model` defines `__await__` (so `await row` works), which sent every object field answering a row
    down graphql-core's asynchronous path, a coroutine and an await per object (docs/PERFORMANCE.md, "Serving
    the grid")."""
    kind = type(value)
    if kind in _VALUE_TYPES:
        return False
    if isinstance(value, Model) or not optimized_is_awaitable(value):
        if kind is not GeneratorType and "__await__" not in getattr(value, "__dict__", ()):
            _VALUE_TYPES.add(kind)
        return False
    return True


class SuggestionFreeExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; in production its errors (variables, arguments, enums) carry no "Did you mean …"
    suggestions, so the schema cannot be guessed from error messages once introspection is off. Rows are values
    (`is_awaitable`)."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        kwargs["hide_suggestions"] = kwargs.get("hide_suggestions", False) or get_settings().production
        executor = super().build(*args, **kwargs)
        if isinstance(executor, StrawberryGraphQLCoreExecutionContext):
            executor.is_awaitable = is_awaitable  # type: ignore[assignment]  # graphql-core types it as a TypeGuard
        if isinstance(executor, SuggestionFreeExecutor):
            executor.planned = compiled_plans.PERSISTED.get() and get_settings().compiled_plans
        return executor

    planned = False  # a persisted document, plans on: objects are completed by their compiled plans
    plain_types = _VALUE_TYPES  # what `is_awaitable` found plain: the plans' one look-up

    def collect_and_execute_subfields(self, return_type: Any, field_details_list: Any, path: Any, result: Any,
                                      position_context: Any) -> Any:
        """An object's fields from its compiled plan (schema/compiled_plans.py) when it has one and it handles
        the value; graphql-core's own completion otherwise."""
        if self.planned:
            try:
                return compiled_plans.run(self, return_type, field_details_list, result)
            except compiled_plans.NotHandled:
                pass
        return super().collect_and_execute_subfields(return_type, field_details_list, path, result,
                                                     position_context)


# Exceptions that describe the client's request, not a bug: shown as they are, never masked or logged.
CLIENT_ERRORS = (BadRequest, GlobalIDValueError, InvalidGlobalIDError, InvalidOperationTypeError,
                 CannotGetOperationTypeError, MissingQueryError)


def is_unexpected(error: GraphQLError) -> bool:
    """A bug, as opposed to a bad request: an exception that is neither a GraphQL nor a client error."""
    original = error.original_error
    return original is not None and not isinstance(original, (GraphQLError, *CLIENT_ERRORS))


def should_mask_error(error: GraphQLError) -> bool:
    """Mask only unexpected exceptions: validation, auth and bad-request errors reach the client as is."""
    return is_unexpected(error)


def request_id(context: Any) -> str:
    """The request id of a resolver context (resolvers/context.py); "-" outside a request."""
    return str(getattr(context, "request_id", None) or "-")


class MaskUnexpectedErrors(MaskErrors):
    """Masks bugs as MASKED_MESSAGE with `extensions {code: INTERNAL_ERROR, requestId}`: the id that is in
    the log record of the bug and in the response's X-Request-Id header, so a report can be matched."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=MASKED_MESSAGE)

    def _process_result(self, result: object) -> None:
        """As strawberry's, without its isinstance check against a runtime Protocol, which is slow: this runs for
        every event of every subscriber (docs/PERFORMANCE.md, "Live events")."""
        if errors := getattr(result, "errors", None):
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]  # strawberry's extension base declares no _process_errors

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return GraphQLError(message=self.error_message, nodes=error.nodes, source=error.source,
                            positions=error.positions, path=error.path, original_error=None,
                            extensions={"code": "INTERNAL_ERROR",
                                        "requestId": request_id(self.execution_context.context)})


def _short(text: str) -> str:
    return text if len(text) <= LOG_TEXT_LIMIT else f"{text[:LOG_TEXT_LIMIT]}… [{len(text)} characters]"


def _copy(error: BaseException) -> BaseException:
    try:
        duplicate = copy.copy(error)
    except Exception:  # an exception that cannot be copied is described instead
        duplicate = RuntimeError(f"{type(error).__qualname__}: {_short(str(error))}")
    return duplicate.with_traceback(error.__traceback__)


def _shortened(error: BaseException, depth: int = 0) -> BaseException:
    """The exception as it is logged: its message, and each chained one's, cut to LOG_TEXT_LIMIT, so a huge
    input value quoted in a message is not written to the log again; tracebacks are kept."""
    short = error
    if len(text := str(error)) > LOG_TEXT_LIMIT:
        short = _copy(error)
        short.args = (_short(text),)
        if len(str(short)) > LOG_TEXT_LIMIT + 40:  # its __str__ does not read args
            short = RuntimeError(f"{type(error).__qualname__}: {_short(text)}").with_traceback(error.__traceback__)
    cause, context = error.__cause__, error.__context__
    if depth < 5 and (cause is not None or context is not None):
        short = _copy(short) if short is error else short
        short.__cause__ = _shortened(cause, depth + 1) if cause is not None else None
        if context is None or context is cause:
            short.__context__ = short.__cause__ if context is not None else None
        else:
            short.__context__ = _shortened(context, depth + 1)
        short.__suppress_context__ = error.__suppress_context__
    return short


def log_unexpected(error: GraphQLError, context: Any) -> None:
    """One log record per bug, with its traceback and the request id, input values cut short."""
    original = error.original_error
    assert original is not None
    short = _shortened(original)
    path = ".".join(str(key)[:64] for key in error.path or ())
    log.error("Unexpected error (request %s) at %s: %s", request_id(context), _short(path) or "-",
              _short(error.message), exc_info=(type(short), short, original.__traceback__))
