"""Compiled plans: generated Python that builds a persisted document's response without graphql-core's per-field
machinery, for the parts of it that graphql-core would answer with plain values (docs/PERFORMANCE.md, "Serving
the grid").

The executor (schema/limits.py, `SuggestionFreeExecutor`) asks `Plans.run` before it completes the fields of an
object. For a request that named its document by its persisted hash (billrun/persisted_queries.py) the object's
selection (its type and the very field nodes of the cached document) is compiled once into a Python function
(source generated here, `compile()`d) that reads each field as graphql-core would — the same resolvers, which
schema/fast_fields.py gave graphql-core, called the same way — and completes the values itself: scalars and
enums through their own `coerce_output_value`, lists, nulls and nested objects (their `is_type_of` asked as
graphql-core asks it). The object's resolver has run as usual (arguments, permissions, scopes, the page's
prefetch): a plan only ever starts below a resolver that graphql-core called, with the value it returned.

A selection is compiled only when every field below it is one of those resolvers (no arguments, no permission
classes, no field extensions), with no directive anywhere (`@skip`/`@include` depend on variables), and no
interface. A strawberry union is compiled member by member: a value of exactly a member's class takes that
member's plan (the type strawberry's `resolve_type` gives it); a value of another class, or one given a type by
`strawberry.cast`, is not handled. Anything else — or, at run time, any value that is awaitable (not loaded
yet), a null where the type forbids it, a value a scalar refuses, an exception — is "not handled": the plan's
work is thrown away and graphql-core completes the object itself, errors and null propagation included, as if
there were no plan.
Relations answer from the request's DataLoaders, so a second read costs nothing. `BILLRUN_COMPILED_PLANS=false`
turns plans off; `tests/test_compiled_plans.py` compares the responses with plans on and off byte for byte.

Subscriptions (docs/PERFORMANCE.md, "Resume, third round"): every event of a subscription is executed with the
same operation, so its whole per-event result has a plan too (`compile_event_plan`, kept per operation node, for
any subscription document, persisted or not: it is compiled once and serves every event): the root field is
the event itself (strawberry's resolver of subscription fields), completed by the object plans. The schema's
executor (schema/subscription.py, `execute_event`) asks `run_event` first, and graphql-core executes the event
when it is not handled; `tests/test_event_plans.py` compares the frames of both, byte for byte.
"""

import inspect as pyinspect
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from enum import Enum
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    GraphQLUnionType,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.pyutils import Undefined, is_iterable
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.union import StrawberryUnion

from schema.fast_fields import global_id

PERSISTED: ContextVar[bool] = ContextVar("billrun_persisted_document", default=False)  # set per HTTP request
MAX_PLANS = 2048  # compiled selections kept per process, least recently used dropped first


class NotHandled(Exception):
    """The plan met something graphql-core must answer."""


CHECKED: set[type] = set()  # value types neither awaitable nor exceptions, as `is_awaitable` found them


def _checker(is_awaitable: Callable[[Any], bool], plain: set[type]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if isinstance(value, BaseException) or is_awaitable(value):
            raise NotHandled(value)
        if value.__class__ in plain:
            CHECKED.add(value.__class__)
    return check


class _Info:
    """What a plan passes as `info` to a resolver marked `direct` (it reads nothing of info but `context`) and to
    `is_type_of` (ModelNode's reads only the value)."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


Plan = Callable[[Any, Any], dict[str, Any]]


def _directives(selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode],
                seen: frozenset[str] = frozenset()) -> bool:
    """Whether any selection, fragment or field below has a directive."""
    for selection in selection_set.selections if selection_set is not None else ():
        if selection.directives:
            return True
        if isinstance(selection, FieldNode | InlineFragmentNode):
            if _directives(selection.selection_set, fragments, seen):
                return True
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.directives \
                    or _directives(fragment.selection_set, fragments, seen | {selection.name.value}):
                return True
    return False


class _Compiler:
    """Generates the source of one selection's plan (nested selections as nested functions)."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor
        self.names: dict[str, Any] = {"NotHandled": NotHandled, "Undefined": Undefined, "is_iterable": is_iterable,
                                      "global_id": global_id, "CHECKED": CHECKED,
                                      "check": _checker(executor.is_awaitable, executor.plain_types),
                                      "is_async_iterable": executor.is_async_iterable}
        self.lines: list[str] = []
        self.functions = 0

    def constant(self, value: Any) -> str:
        name = f"K{len(self.names)}"
        self.names[name] = value
        return name

    def function(self, object_type: GraphQLObjectType, field_details_list: Any) -> str:
        """The name of a generated `def P<n>(src, info)` answering `object_type`'s selection, or NotHandled."""
        executor = self.executor
        grouped, defers, _ = collect_subfields(executor.schema, executor.fragments, executor.variable_values,
                                               executor.operation, object_type, field_details_list,
                                               executor.hide_suggestions)
        if defers:
            raise NotHandled
        name = f"P{self.functions}"
        self.functions += 1
        body = [f"def {name}(src, info):", "    r = {}"]
        for key, details in grouped.items():
            if any(d.fragment_variable_values is not None for d in details):
                raise NotHandled
            node = details[0].node
            if node.arguments:
                raise NotHandled
            field_name = node.name.value
            if field_name == "__typename":
                body.append(f"    r[{key!r}] = {object_type.name!r}")
                continue
            field = object_type.fields.get(field_name)
            if field is None:
                raise NotHandled
            body.append(f"    v = {self.read(field.resolve, field.args)}")
            body.extend(self.complete(field.type, details, "v", "c", "    "))
            body.append(f"    r[{key!r}] = c")
        body.append("    return r")
        self.lines.extend(body)
        self.lines.append("")
        return name

    def read(self, resolve: Any, args: dict) -> str:
        """The expression graphql-core's call of this resolver comes to."""
        if resolve is None or args:
            raise NotHandled  # graphql-core's default resolver, or a field with arguments: not ours to read
        kind = getattr(resolve, "plan", None)
        if kind is not None and kind[0] == "attribute" and kind[1].isidentifier():
            return f"src.{kind[1]}"
        if kind is not None and kind[0] == "parent":
            return f"{self.constant(kind[1])}(src)"
        if kind is not None and kind[0] == "global_id":
            return f"global_id({kind[1]!r}, src.id)"
        if getattr(resolve, "direct", False) and not pyinspect.iscoroutinefunction(resolve):
            return f"{self.constant(resolve)}(src, info)"
        raise NotHandled

    def complete(self, graphql_type: GraphQLOutputType, details: Any, value: str, into: str,
                 indent: str) -> Iterator[str]:
        """Lines completing `value` of `graphql_type` into `into`, as graphql-core's `complete_value` would."""
        # graphql-core asks `is_awaitable` of every value (and raises a value that is an exception): a type found
        # plain and no exception is answered by one look-up
        yield f"{indent}if {value}.__class__ not in CHECKED: check({value})"
        if isinstance(graphql_type, GraphQLNonNull):
            yield f"{indent}if {value} is None or {value} is Undefined: raise NotHandled"
            graphql_type = graphql_type.of_type
        else:
            yield f"{indent}if {value} is None or {value} is Undefined:"
            yield f"{indent}    {into} = None"
            yield f"{indent}else:"
            indent += "    "
        if isinstance(graphql_type, GraphQLList):
            item, done = f"{value}i", f"{into}i"
            yield f"{indent}if is_async_iterable({value}) or not is_iterable({value}): raise NotHandled"
            yield f"{indent}{into} = []"
            yield f"{indent}for {item} in {value}:"
            yield from self.complete(graphql_type.of_type, details, item, done, indent + "    ")
            yield f"{indent}    {into}.append({done})"
        elif isinstance(graphql_type, GraphQLScalarType | GraphQLEnumType):
            coerce = self.constant(graphql_type.coerce_output_value)
            members = getattr(graphql_type, "wrapped_cls", None)
            if isinstance(members, type) and issubclass(members, Enum):
                # strawberry's enums: a member's name found once per member (its coercion is a loop over the values)
                names = self.constant({m: graphql_type.coerce_output_value(m) for m in members})
                kind = self.constant(members)
                yield f"{indent}{into} = {names}[{value}] if {value}.__class__ is {kind} else {coerce}({value})"
            elif graphql_type is GraphQLString or graphql_type is GraphQLID:
                yield f"{indent}{into} = {value} if {value}.__class__ is str else {coerce}({value})"
            else:
                yield f"{indent}{into} = {coerce}({value})"
            yield f"{indent}if {into} is None or {into} is Undefined: raise NotHandled"
        elif isinstance(graphql_type, GraphQLObjectType):
            nested = self.function(graphql_type, details)
            if graphql_type.is_type_of is not None:
                check = self.constant(graphql_type.is_type_of)
                yield f"{indent}if {check}({value}, info) is not True: raise NotHandled"
            yield f"{indent}{into} = {nested}({value}, info)"
        elif isinstance(graphql_type, GraphQLUnionType):
            members = self.union(graphql_type, details)
            found = f"{value}t"
            yield f"{indent}{found} = {members}.get({value}.__class__)"
            yield f"{indent}if {found} is None or getattr({value}, {TYPE_CAST_ATTRIBUTE!r}, None) is not None:"
            yield f"{indent}    raise NotHandled"
            yield f"{indent}if {found}[1] is not None and {found}[1]({value}, info) is not True: raise NotHandled"
            yield f"{indent}{into} = {found}[0]({value}, info)"
        else:
            raise NotHandled  # an interface: graphql-core resolves its type

    def union(self, union: GraphQLUnionType, details: Any) -> str:
        """The name of a generated `{class: (plan, is_type_of)}` of a strawberry union's members, by the class a
        value must be exactly of: the type strawberry's `resolve_type` gives such a value (a value of another
        class, or `strawberry.cast` to a type, is not handled)."""
        backref = GraphQLCoreConverter.DEFINITION_BACKREF
        if not isinstance((union.extensions or {}).get(backref), StrawberryUnion):
            raise NotHandled
        entries: list[str] = []
        classes: set[type] = set()
        for member in union.types:
            definition = (member.extensions or {}).get(backref)
            origin = getattr(definition, "origin", None)
            if not isinstance(definition, StrawberryObjectDefinition) or definition.is_graphql_generic \
                    or definition.concrete_of is not None or not isinstance(origin, type) or origin in classes \
                    or getattr(origin, "__strawberry_definition__", None) is not definition:
                raise NotHandled  # generics and look-alikes: strawberry's resolution is not a class look-up
            classes.add(origin)
            nested = self.function(member, details)
            check = self.constant(member.is_type_of) if member.is_type_of is not None else "None"
            entries.append(f"{self.constant(origin)}: ({nested}, {check})")
        name = f"U{len(self.names)}"
        self.names[name] = None  # reserved; the line below defines it once its members' functions exist
        self.lines.append(f"{name} = {{{', '.join(entries)}}}")
        self.lines.append("")
        return name


def compile_plan(executor: Any, object_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
    """The plan of `object_type`'s selection `field_details_list`, or None when it cannot have one."""
    nodes = [d.node for d in field_details_list]
    if any(_directives(n.selection_set, executor.fragment_definitions) for n in nodes):
        return None
    compiler = _Compiler(executor)
    try:
        entry = compiler.function(object_type, field_details_list)
    except Exception:
        return None
    return _compiled(compiler, object_type.name, entry)


def compile_event_plan(executor: Any) -> Plan | None:
    """The plan of a subscription's whole result for one event (its `data`), or None when it cannot have one.

    A subscription has one root field; graphql-core resolves it, for each event, with strawberry's resolver of
    subscription fields (the event itself: its arguments served the subscribe resolver, which ran once) and
    completes the event as any object, which the plan does through the object plans above."""
    operation = executor.operation
    root_type = executor.schema.get_root_type(operation.operation)
    if root_type is None or _directives(operation.selection_set, executor.fragment_definitions):
        return None
    try:
        grouped, defers, _ = collect_fields(executor.schema, executor.fragments, executor.variable_values,
                                            root_type, operation, executor.hide_suggestions)
    except Exception:
        return None
    if defers or len(grouped) != 1:
        return None
    ((key, details),) = grouped.items()
    field = root_type.fields.get(details[0].node.name.value)
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF) if field else None
    if field is None or field.subscribe is None or not getattr(definition, "is_subscription", False) \
            or any(d.fragment_variable_values is not None for d in details):
        return None
    compiler = _Compiler(executor)
    try:
        body = ["def R(src, info):", "    v = src", *compiler.complete(field.type, details, "v", "c", "    "),
                f"    return {{{key!r}: c}}"]
    except Exception:
        return None
    compiler.lines.extend(body)
    return _compiled(compiler, root_type.name, "R")


def _compiled(compiler: _Compiler, type_name: str, entry: str) -> Plan:
    source = "\n".join(compiler.lines)
    namespace = dict(compiler.names)
    exec(compile(source, f"<plan {type_name}>", "exec"), namespace)
    plan: Plan = namespace[entry]
    plan.source = source  # type: ignore[attr-defined]  # for a reader debugging a plan
    return plan


class Plans:
    """Compiled selections by their type and the identity of their field nodes (the parsed document is cached by
    its text, so a persisted document's nodes are the same objects from one request to the next)."""

    def __init__(self) -> None:
        self._plans: OrderedDict[tuple, tuple[list, Plan | None]] = OrderedDict()

    def get(self, executor: Any, object_type: GraphQLObjectType, field_details_list: Any) -> Plan | None:
        nodes = [d.node for d in field_details_list]
        return self._kept((object_type.name, *map(id, nodes)), nodes,
                          lambda: compile_plan(executor, object_type, field_details_list))

    def of_events(self, executor: Any) -> Plan | None:
        """The plan of a subscription operation's result per event (`compile_event_plan`), by its node."""
        operation = executor.operation
        return self._kept(("event", id(operation)), [operation], lambda: compile_event_plan(executor))

    def _kept(self, key: tuple, nodes: list, make: Callable[[], Plan | None]) -> Plan | None:
        found = self._plans.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], nodes, strict=True)):
            self._plans.move_to_end(key)
            return found[1]
        plan = make()
        self._plans[key] = (nodes, plan)  # the nodes kept alive: their ids cannot name other nodes meanwhile
        while len(self._plans) > MAX_PLANS:
            self._plans.popitem(last=False)
        return plan

    def compiled(self, type_name: str) -> int:
        """How many selections of `type_name` have a plan (for the tests)."""
        return sum(1 for key, (_, plan) in self._plans.items() if key[0] == type_name and plan is not None)

    def clear(self) -> None:
        self._plans.clear()


PLANS = Plans()


def run(executor: Any, object_type: GraphQLObjectType, field_details_list: Any, result: Any) -> Any:
    """The object's completed fields from its plan, or NotHandled (graphql-core completes it)."""
    cache = executor.__dict__.setdefault("_billrun_plans", {})
    key = id(field_details_list)
    found = cache.get(key)
    if found is None:
        found = cache[key] = (field_details_list, PLANS.get(executor, object_type, field_details_list),
                              _Info(executor.context_value))
    plan = found[1]
    if plan is None:
        raise NotHandled
    return _attempt(plan, result, found[2])


def run_event(executor: Any, event: Any) -> dict[str, Any]:
    """A subscription's `data` for `event` from its plan (the operation's executor keeps it), or NotHandled
    (graphql-core executes the operation for the event)."""
    found = executor.__dict__.get("_billrun_event_plan")
    if found is None:
        found = executor.__dict__["_billrun_event_plan"] = (PLANS.of_events(executor), _Info(executor.context_value))
    if found[0] is None:
        raise NotHandled
    return _attempt(found[0], event, found[1])


def _attempt(plan: Plan, value: Any, info: _Info) -> Any:
    try:
        return plan(value, info)
    except NotHandled as unfinished:
        for pending in unfinished.args:
            close = getattr(pending, "close", None)
            if pyinspect.iscoroutine(pending) and close is not None:
                close()  # a relation's `then` not awaited: graphql-core asks for it again
        raise
    except Exception as error:
        raise NotHandled from error  # graphql-core reads the field again and reports its error
