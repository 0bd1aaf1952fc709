"""The GraphQL schema of billrun: types, inputs and payloads, assembled with the hardened edge."""

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from billrun.settings import get_settings
from schema.limits import IntrospectionOffInProduction, QueryCostLimiter, is_unexpected, should_mask_error
from schema.mutations.access import AccessMutations
from schema.mutations.billing import BillingMutations
from schema.mutations.books import BooksMutations
from schema.mutations.items import ItemMutations
from schema.mutations.master_data import MasterDataMutations
from schema.mutations.posting import PostingMutations
from schema.mutations.review import ReviewMutations
from schema.query import Query

log = logging.getLogger("billrun.graphql")


@strawberry.type(description="Everything a client can change. Each mutation takes one `input` and answers a "
                 "payload whose `errors` lists business-rule refusals (nothing changed then).")
class Mutation(AccessMutations, MasterDataMutations, BooksMutations, ItemMutations, BillingMutations,
               ReviewMutations, PostingMutations):
    pass


class BillrunSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log bugs with their traceback; a client's own mistakes are answered, not logged as errors."""
        for error in errors:
            if is_unexpected(error):
                log.error("Unexpected error at %s: %s", error.path, error.message, exc_info=error.original_error)


def build_schema() -> strawberry.Schema:
    """Build the schema once per process (relay fields cannot be bound twice); limits read settings per request."""
    extensions: list = [
        lambda: QueryDepthLimiter(max_depth=get_settings().max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=get_settings().max_aliases),
        lambda: MaxTokensLimiter(max_token_count=get_settings().max_tokens),
        QueryCostLimiter,
        IntrospectionOffInProduction,
        lambda: MaskErrors(should_mask_error=should_mask_error,
                           error_message="Unexpected error; it has been logged."),
        lambda: ParserCache(maxsize=256),
    ]
    return BillrunSchema(query=Query, mutation=Mutation, extensions=extensions,
                             config=StrawberryConfig(auto_camel_case=True))


schema = build_schema()
