"""Shapes every part of the graph shares: typed payload errors, Relay connections, ordering direction."""

from enum import Enum
from typing import Generic, TypeVar

import strawberry
from strawberry import relay

from domain.errors import ErrorCode as DomainErrorCode
from resolvers.pagination import Page

# The stored enumerations are the GraphQL enums: `strawberry.enum` registers the class itself (and returns
# it), so each name stays a type the checker knows.
ErrorCode = DomainErrorCode
strawberry.enum(ErrorCode, description="Why a mutation refused its input. Stable: switch on it.")


@strawberry.type(description="A business-rule refusal: nothing was changed. Switch on `code`, show `message`.")
class UserError:
    code: ErrorCode = strawberry.field(description="Machine-readable reason.")
    field: str | None = strawberry.field(description="The input field at fault, when one is.")
    message: str = strawberry.field(description="The reason in words, for a person.")


@strawberry.enum(description="Sort direction.")
class Direction(Enum):
    ASC = "ASC"
    DESC = "DESC"


NodeT = TypeVar("NodeT")


@strawberry.type(description="One node of a connection with its cursor.")
class Edge(Generic[NodeT]):
    node: NodeT = strawberry.field(description="The node.")
    cursor: str = strawberry.field(description="Pass as `after`/`before` to page from here.")


@strawberry.type(description="A page of a list, Relay style, with the size of the whole filtered list.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The nodes of this page with their cursors.")
    page_info: relay.PageInfo = strawberry.field(description="Where this page sits in the list.")
    total_count: int = strawberry.field(description="How many nodes match the filter, across all pages.")

    @strawberry.field(description="The nodes of this page, without cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]

    @classmethod
    def of(cls, page: Page) -> "Connection[NodeT]":
        return cls(
            edges=[Edge(node=row, cursor=cursor) for row, cursor in zip(page.rows, page.cursors, strict=True)],
            page_info=relay.PageInfo(
                has_next_page=page.has_next, has_previous_page=page.has_previous,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            total_count=page.total_count,
        )


def order_key(field: Enum, direction: Direction) -> str:
    """Tortoise ordering notation for a GraphQL order field whose value is the model field name."""
    return ("-" if direction is Direction.DESC else "") + field.value
