"""The GraphQL schema of billrun: types, inputs and payloads, assembled with the hardened edge."""

import strawberry
from graphql import GraphQLError
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from billrun.settings import get_settings
from schema import fast_fields
from schema.idempotency import Idempotency
from schema.limits import EdgeLimits, MaskUnexpectedErrors, is_unexpected, log_unexpected
from schema.mutations.access import AccessMutations
from schema.mutations.billing import BillingMutations
from schema.mutations.books import BooksMutations
from schema.mutations.credit_notes import CreditNoteMutations
from schema.mutations.items import ItemMutations
from schema.mutations.master_data import MasterDataMutations
from schema.mutations.posting import PostingMutations
from schema.mutations.review import ReviewMutations
from schema.mutations.rules import RulesMutations
from schema.operation_metrics import OperationMetrics
from schema.query import Query
from schema.scalars import STRICT_SCALARS, NoNulInStrings
from schema.subscription import SharedEventExecutor, Subscription
from schema.webhooks import WebhookMutations


@strawberry.type(description="Everything a client can change. Each mutation takes one `input` and answers a "
                 "payload whose `errors` lists business-rule refusals (nothing changed then).")
class Mutation(AccessMutations, MasterDataMutations, BooksMutations, ItemMutations, BillingMutations,
               ReviewMutations, PostingMutations, WebhookMutations, CreditNoteMutations, RulesMutations):
    pass


class BillrunSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log each bug once, with its traceback and request id; a client's own mistakes are answered, not
        logged as errors."""
        context = execution_context.context if execution_context is not None else None
        for error in errors:
            if is_unexpected(error):
                log_unexpected(error, context)


def build_schema() -> strawberry.Schema:
    """Build the schema once per process (relay fields cannot be bound twice); limits read settings per request.

    EdgeLimits parses (cached) and validates, limits first (schema/limits.py); MaxTokensLimiter only sets the
    parser's token limit it applies. Idempotency wraps execution (schema/idempotency.py)."""
    extensions: list = [
        lambda: MaxTokensLimiter(max_token_count=get_settings().max_tokens),
        EdgeLimits,
        MaskUnexpectedErrors,
        lambda: AddValidationRules([NoNulInStrings]),  # string literals as strict as strings in variables
        Idempotency,  # its on_execute ends before masking (at on_operation's end): it sees a bug and stores nothing
        OperationMetrics,  # last: it sees each error before MaskUnexpectedErrors rewrites it
    ]
    # Strict Decimal, Date and DateTime schema-wide (schema/scalars.py), in place of strawberry's lenient ones.
    config = StrawberryConfig(auto_camel_case=True, scalar_map=STRICT_SCALARS)
    built = BillrunSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions,
                          execution_context_class=SharedEventExecutor, config=config)
    fast_fields.install(built)  # plain fields resolved by graphql-core directly (schema/fast_fields.py)
    return built


schema = build_schema()
