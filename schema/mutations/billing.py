"""The billing run: create, analyze, process and reverse batches; resolve findings; open and close periods."""

from datetime import date

import strawberry
from strawberry import relay

from resolvers import billing
from resolvers.mutations import payload
from resolvers.relations import CtxInfo
from schema.billing import BatchPreview, BillingBatch, Finding, Job
from schema.common import UserError
from schema.idempotency import IdempotentInput
from schema.mutations.books import AccountingPeriodPayload
from schema.permissions import AUTHENTICATED


@strawberry.input(description="A new billing batch.")
class CreateBillingBatchInput(IdempotentInput):
    name: str = strawberry.field(description="Unique name.")
    bill_group: str | None = strawberry.field(default=None, description="Bill group; null or ALL: every group.")
    division: str | None = strawberry.field(default=None, description="Division; null or ALL: every division.")
    currency: str | None = strawberry.field(default=None, description="Currency billed; default: base currency.")
    invoice_date: date | None = strawberry.field(default=None, description="Default: today (business time "
                                                 "zone); must be in an open accounting period.")
    as_of_date: date | None = strawberry.field(default=None, description="Default: the invoice date.")


@strawberry.type(description="The batch created.")
class BillingBatchPayload:
    billing_batch: BillingBatch | None = strawberry.field(description="The batch.")
    errors: list[UserError] = strawberry.field(description="Why nothing was saved.")


@strawberry.input(description="The batch to act on.")
class BillingBatchInput(IdempotentInput):
    batch_id: relay.GlobalID = strawberry.field(description="The billing batch.")


@strawberry.type(description="Pre-billing analysis: findings, and the preview of what processing would create.")
class AnalyzeBillingBatchPayload:
    billing_batch: BillingBatch | None = strawberry.field(description="The batch.")
    findings: list[Finding] = strawberry.field(description="Its pre-billing findings, resolved ones included.")
    preview: BatchPreview | None = strawberry.field(description="What processing would create now.")
    errors: list[UserError] = strawberry.field(description="Why nothing was analyzed.")


@strawberry.input(description="Resolve a finding with a note.")
class ResolveFindingInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The finding.")
    note: str = strawberry.field(description="How it was resolved.")


@strawberry.type(description="The finding resolved.")
class FindingPayload:
    finding: Finding | None = strawberry.field(description="The finding.")
    errors: list[UserError] = strawberry.field(description="Why nothing changed.")


@strawberry.type(description="Background work started: follow `job` (or the batch's events).")
class JobPayload:
    job: Job | None = strawberry.field(description="The job, QUEUED.")
    errors: list[UserError] = strawberry.field(description="Why nothing started.")


@strawberry.input(description="The accounting period to close.")
class CloseAccountingPeriodInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The accounting period.")


@strawberry.input(description="The accounting period to reopen, and why.")
class ReopenAccountingPeriodInput(IdempotentInput):
    id: relay.GlobalID = strawberry.field(description="The accounting period.")
    reason: str = strawberry.field(description="Why it is reopened (audited).")


@strawberry.type
class BillingMutations:
    @strawberry.mutation(description="Create a billing batch (NOT_STARTED).", permission_classes=AUTHENTICATED)
    async def create_billing_batch(self, info: CtxInfo, input: CreateBillingBatchInput) -> BillingBatchPayload:
        return payload(BillingBatchPayload, "billing_batch", await billing.create_billing_batch(info, input))

    @strawberry.mutation(description="Run pre-billing analysis and preview processing (writes only findings).",
                         permission_classes=AUTHENTICATED)
    async def analyze_billing_batch(self, info: CtxInfo, input: BillingBatchInput) -> AnalyzeBillingBatchPayload:
        result, errors = await billing.analyze_billing_batch(info, input)
        batch, findings, preview = result if result else (None, [], None)
        return AnalyzeBillingBatchPayload(billing_batch=batch, findings=findings, preview=preview, errors=errors)

    @strawberry.mutation(description="Resolve a finding with a note.", permission_classes=AUTHENTICATED)
    async def resolve_finding(self, info: CtxInfo, input: ResolveFindingInput) -> FindingPayload:
        return payload(FindingPayload, "finding", await billing.resolve_finding(info, input))

    @strawberry.mutation(description="Process a NOT_STARTED batch in the background (UNRESOLVED_FINDINGS while "
                         "ERROR findings are open).", permission_classes=AUTHENTICATED)
    async def process_billing_batch(self, info: CtxInfo, input: BillingBatchInput) -> JobPayload:
        return payload(JobPayload, "job", await billing.process_billing_batch(info, input))

    @strawberry.mutation(description="Undo processing of a PROCESSED or FAILED batch, back to NOT_STARTED.",
                         permission_classes=AUTHENTICATED)
    async def reverse_billing_batch(self, info: CtxInfo, input: BillingBatchInput) -> JobPayload:
        return payload(JobPayload, "job", await billing.reverse_billing_batch(info, input))

    @strawberry.mutation(description="Close a month of the books (ADMIN).", permission_classes=AUTHENTICATED)
    async def close_accounting_period(self, info: CtxInfo,
                                      input: CloseAccountingPeriodInput) -> AccountingPeriodPayload:
        return payload(AccountingPeriodPayload, "accounting_period",
                       await billing.close_accounting_period(info, input))

    @strawberry.mutation(description="Reopen a closed month (ADMIN, with a reason).",
                         permission_classes=AUTHENTICATED)
    async def reopen_accounting_period(self, info: CtxInfo,
                                       input: ReopenAccountingPeriodInput) -> AccountingPeriodPayload:
        return payload(AccountingPeriodPayload, "accounting_period",
                       await billing.reopen_accounting_period(info, input))


