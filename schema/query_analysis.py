"""One walk over a parsed GraphQL document that measures depth, aliases and cost, in time linear in its size.

A fragment can be spread many times, and fragments can spread each other: walking each spread anew is
exponential (30 levels of two spreads each is 2^30 walks from 1 kB of text). Here every fragment is measured
exactly once, in an order where the fragments it spreads are already measured, and a spread just reuses the
fragment's measure. The measure of a fragment does not depend on where it is spread: its fields are typed by
its own type condition, and the variables are those of the one operation being run.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    VariableValues,
    get_argument_values,
    get_named_type,
    get_nullable_type,
    is_list_type,
)

from resolvers.pagination import DEFAULT_PAGE_SIZE

# A plain list field (not a connection) is assumed to hold this many items when its subtree is costed.
LIST_SIZE_ESTIMATE = 5
# The only arguments that change how much a field returns; nothing else is coerced for pricing.
PRICING_ARGUMENTS = ("first", "last", "ids")


@dataclass(frozen=True, slots=True)
class Measure:
    """What a selection set amounts to once every fragment in it is expanded.

    depth: field levels below it (a leaf field is 0; introspection fields do not count, as in strawberry's
    QueryDepthLimiter); aliases: aliased fields as they appear in the response (a fragment's count once per
    spread); cost: each field 1, its subtree multiplied by the number of items it returns.
    """

    depth: int = 0
    aliases: int = 0
    cost: int = 0


ZERO = Measure()


@dataclass(frozen=True, slots=True)
class IdsCount:
    """A field asked for this many objects by id (`nodes(ids:)`)."""

    node: FieldNode
    count: int


@dataclass(frozen=True, slots=True)
class RepeatedField:
    """The response key selected most often in one selection set (fragments expanded), and where."""

    key: str
    count: int
    node: SelectionSetNode


@dataclass
class QueryAnalysis:
    """Measures every operation of `document`; page sizes and id lists come from `variables`, the coerced
    variables of the operation that will run (None when they could not be coerced: execution reports that)."""

    schema: GraphQLSchema
    document: DocumentNode
    variables: VariableValues | None = None
    operations: list[tuple[OperationDefinitionNode, Measure]] = field(default_factory=list)
    ids_counts: list[IdsCount] = field(default_factory=list)
    fragment_evaluations: int = 0  # how many times a fragment's selections were walked (once each)
    selections_visited: int = 0  # selection nodes walked in all (each node of the document once)
    # Standard validation compares every two fields of one selection set that share a response key
    # (OverlappingFieldsCanBeMerged): quadratic in the repeats, so their count is a limit of its own. Each
    # selection node is counted once per selection set it is written in, so this stays linear too.
    most_repeated: RepeatedField | None = None

    def __post_init__(self) -> None:
        self._fragments = {d.name.value: d for d in self.document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._measures: dict[str, Measure] = {}
        self._pricing_fields: dict[int, GraphQLField | None] = {}
        for name in self._dependency_order():
            fragment = self._fragments[name]
            self.fragment_evaluations += 1
            self._measures[name] = self._selection_set(fragment.selection_set,
                                                       self.schema.get_type(fragment.type_condition.name.value))
        for definition in self.document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                root = self.schema.get_root_type(definition.operation)
                self.operations.append((definition, self._selection_set(definition.selection_set, root)))

    def _dependency_order(self) -> list[str]:
        """Fragment names, each after every fragment it spreads (iterative, so long chains need no stack).

        A spread that closes a cycle is left out; standard validation refuses the cycle itself."""
        order: list[str] = []
        seen: set[str] = set()
        for start in self._fragments:
            if start in seen:
                continue
            seen.add(start)
            stack = [(start, self._spreads(self._fragments[start].selection_set))]
            while stack:
                name, spreads = stack[-1]
                child = next(spreads, None)
                if child is None:
                    stack.pop()
                    order.append(name)
                elif child in self._fragments and child not in seen:
                    seen.add(child)
                    stack.append((child, self._spreads(self._fragments[child].selection_set)))
        return order

    def _spreads(self, selection_set: SelectionSetNode) -> Iterator[str]:
        """Names of the fragments spread in this selection set, at any depth (without entering fragments)."""
        for node in selection_set.selections:
            if isinstance(node, FragmentSpreadNode):
                yield node.name.value
            elif isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set is not None:
                yield from self._spreads(node.selection_set)

    def _top_level_keys(self, selection_set: SelectionSetNode) -> Counter[str]:
        """How often each response key is written at this level (inline fragments' fields included). Fields
        reached through named fragments are not counted: a fragment costs tokens of its own, so the token limit
        already bounds them, and composed fragments selecting `id` side by side stay allowed."""
        keys: Counter[str] = Counter()
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                keys[(node.alias or node.name).value] += 1
            elif isinstance(node, InlineFragmentNode):
                keys.update(self._top_level_keys(node.selection_set))
        return keys

    def _note_repeats(self, selection_set: SelectionSetNode) -> None:
        found = self._top_level_keys(selection_set).most_common(1)
        if found and (self.most_repeated is None or found[0][1] > self.most_repeated.count):
            self.most_repeated = RepeatedField(found[0][0], found[0][1], selection_set)

    def _selection_set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None) -> Measure:
        self._note_repeats(selection_set)
        depth = aliases = cost = 0
        for node in selection_set.selections:
            self.selections_visited += 1
            if isinstance(node, FieldNode):
                measure = self._field(node, parent)
            elif isinstance(node, InlineFragmentNode):
                narrowed = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                measure = self._selection_set(node.selection_set, narrowed)
            else:  # a spread: the fragment is measured already (absent when unknown or in a cycle)
                measure = self._measures.get(cast(FragmentSpreadNode, node).name.value, ZERO)
            depth = max(depth, measure.depth)
            aliases += measure.aliases
            cost += measure.cost
        return Measure(depth, aliases, cost)

    def _field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Measure:
        aliases = 1 if node.alias else 0
        if node.selection_set is None:
            return Measure(0, aliases, 1)
        definition = self._definition(parent, node.name.value)
        named = get_named_type(definition.type) if definition is not None else None
        inner = self._selection_set(node.selection_set, named)
        depth = 0 if node.name.value.startswith("__") else 1 + inner.depth
        return Measure(depth, aliases + inner.aliases, 1 + self._items(node, definition) * inner.cost)

    def _definition(self, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is not None and parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        fields = getattr(parent, "fields", None)
        return fields.get(name) if fields else None

    def _items(self, node: FieldNode, definition: GraphQLField | None) -> int:
        """How many objects the field returns: the real `ids` or `first`/`last`, else an estimate."""
        if definition is None:
            return 1
        arguments = self._pricing_arguments(node, definition)
        ids = arguments.get("ids")
        if isinstance(ids, list):
            self.ids_counts.append(IdsCount(node, len(ids)))
            return max(len(ids), 1)
        sizes = [value for name in ("first", "last") if isinstance(value := arguments.get(name), int)]
        if sizes:
            return max(*sizes, 1)
        if get_named_type(definition.type).name.endswith("Connection"):
            return DEFAULT_PAGE_SIZE  # what the resolvers return without `first`/`last`
        return LIST_SIZE_ESTIMATE if is_list_type(get_nullable_type(definition.type)) else 1

    def _pricing_arguments(self, node: FieldNode, definition: GraphQLField) -> dict[str, Any]:
        """The field's pricing arguments coerced by graphql-core itself (literals, variables and defaults);
        {} when they do not coerce, which validation or execution then reports."""
        key = id(definition)
        if key not in self._pricing_fields:
            args = {name: arg for name, arg in definition.args.items() if name in PRICING_ARGUMENTS}
            self._pricing_fields[key] = GraphQLField(definition.type, args) if args else None
        pricing = self._pricing_fields[key]
        if pricing is None:
            return {}
        try:
            return get_argument_values(pricing, node, self.variables)
        except Exception:  # a value that does not coerce is reported by validation or execution
            return {}
