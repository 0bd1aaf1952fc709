"""The root Query: the viewer, Relay's node/nodes, and a connection per kind of master data."""

from datetime import date
from enum import Enum
from typing import cast

import strawberry
from strawberry import relay

from resolvers import billing, credit_notes, events, ledger, lists, webhooks
from resolvers.context import authenticated_viewer
from resolvers.relations import CtxInfo
from schema.access import ApiToken, Team, User, Viewer
from schema.accounts import Account, BillingFrequency, ContractStatus, SalesContract
from schema.billing import (
    Audit,
    AuditFilter,
    BatchStatus,
    BillingBatch,
    Job,
    Notification,
    NotificationStatus,
    PeriodicBilling,
)
from schema.books import AccountingPeriod, LedgerAccount, LedgerAccountKind, PeriodStatus, TaxRate
from schema.common import Connection, Direction, order_key
from schema.credit_notes import CreditNote, CreditNoteFilter
from schema.events import Event, EventFilter, EventOrder
from schema.ledger import Invoice, InvoiceFilter, InvoiceOrder, TrialBalance
from schema.permissions import AUTHENTICATED
from schema.rules import ApprovalRule, BillingSchedule
from schema.webhooks import WebhookDelivery, WebhookEndpoint


@strawberry.input(description="Narrow the accounts listed; every given condition must hold.")
class AccountFilter:
    search: str | None = strawberry.field(default=None, description="Part of the number or name.")
    bill_group: str | None = strawberry.field(default=None, description="Exactly this bill group.")
    division: str | None = strawberry.field(default=None, description="Exactly this division.")
    currency: str | None = strawberry.field(default=None, description="Exactly this currency.")
    restricted: bool | None = strawberry.field(default=None, description="Only restricted (or open) accounts.")


@strawberry.enum(description="Fields accounts can be ordered by.")
class AccountOrderField(Enum):
    NUMBER = "number"
    NAME = "name"
    CREATED_AT = "created_at"


@strawberry.input(description="The order of an account list.")
class AccountOrder:
    field: AccountOrderField = strawberry.field(default=AccountOrderField.NUMBER, description="Sort key.")
    direction: Direction = strawberry.field(default=Direction.ASC, description="Sort direction.")


@strawberry.input(description="Narrow the sales contracts listed.")
class SalesContractFilter:
    account_id: relay.GlobalID | None = strawberry.field(default=None, description="Contracts of this account.")
    search: str | None = strawberry.field(default=None, description="Part of the contract number.")
    frequency: BillingFrequency | None = strawberry.field(default=None, description="Billing frequency.")
    status: ContractStatus | None = strawberry.field(default=None, description="Contract status.")


@strawberry.enum(description="Fields sales contracts can be ordered by.")
class SalesContractOrderField(Enum):
    NUMBER = "number"
    START_DATE = "start_date"
    CREATED_AT = "created_at"


@strawberry.input(description="The order of a sales-contract list.")
class SalesContractOrder:
    field: SalesContractOrderField = strawberry.field(default=SalesContractOrderField.NUMBER, description="Key.")
    direction: Direction = strawberry.field(default=Direction.ASC, description="Sort direction.")


@strawberry.input(description="Narrow the ledger accounts listed.")
class LedgerAccountFilter:
    kind: LedgerAccountKind | None = strawberry.field(default=None, description="Only this kind.")
    active: bool | None = strawberry.field(default=None, description="Only active (or inactive) accounts.")


@strawberry.input(description="Narrow the accounting periods listed.")
class AccountingPeriodFilter:
    status: PeriodStatus | None = strawberry.field(default=None, description="Only open (or closed) periods.")


@strawberry.enum(description="The tabs of the billing-run list.")
class BatchView(Enum):
    ALL = "ALL"
    DRAFT = "DRAFT"
    POSTED = "POSTED"


@strawberry.input(description="Narrow the billing batches listed.")
class BillingBatchFilter:
    view: BatchView | None = strawberry.field(default=None, description="ALL, DRAFT (not posted) or POSTED.")
    status: list[BatchStatus] | None = strawberry.field(default=None, description="Any of these statuses.")
    bill_group: str | None = strawberry.field(default=None, description="Exactly this bill group.")
    division: str | None = strawberry.field(default=None, description="Exactly this division.")
    search: str | None = strawberry.field(default=None, description="Part of the name or code.")


@strawberry.input(description="Narrow the notifications listed.")
class NotificationFilter:
    batch_id: relay.GlobalID | None = strawberry.field(default=None, description="Notifications of this batch.")
    status: NotificationStatus | None = strawberry.field(default=None, description="Only OPEN (or RESOLVED) ones.")


def window(first: int | None, after: str | None, last: int | None, before: str | None) -> dict:
    return {"first": first, "after": after, "last": last, "before": before}


PAGE_ARGS_DOC = "Relay pagination: `first`/`after` forward, `last`/`before` backward (page size ≤ the limit)."


@strawberry.type(description="Everything a client can read. Every field needs a bearer token.")
class Query:
    node: relay.Node | None = relay.node(
        description="Any object by its global id; null when it does not exist or is hidden from the viewer.",
        permission_classes=AUTHENTICATED)
    nodes: list[relay.Node | None] = relay.node(
        description="Objects by global ids, in order; null for each one absent or hidden.",
        permission_classes=AUTHENTICATED)

    @strawberry.field(description="The caller of this request.", permission_classes=AUTHENTICATED)
    def viewer(self, info: CtxInfo) -> Viewer:
        # The domain's viewer is the root value of the GraphQL Viewer (its `is_type_of` accepts it).
        return cast(Viewer, authenticated_viewer(info))

    @strawberry.field(description="Accounts the viewer may see. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def accounts(self, info: CtxInfo, filter: AccountFilter | None = None,
                       order_by: AccountOrder | None = None, first: int | None = None, after: str | None = None,
                       last: int | None = None, before: str | None = None) -> Connection[Account]:
        order = order_by or AccountOrder()
        page = await lists.accounts(info, filter, [order_key(order.field, order.direction)],
                                    window(first, after, last, before))
        return Connection.of(page)

    @strawberry.field(description="Sales contracts of accounts the viewer may see. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def sales_contracts(self, info: CtxInfo, filter: SalesContractFilter | None = None,
                              order_by: SalesContractOrder | None = None, first: int | None = None,
                              after: str | None = None, last: int | None = None,
                              before: str | None = None) -> Connection[SalesContract]:
        order = order_by or SalesContractOrder()
        page = await lists.sales_contracts(info, filter, [order_key(order.field, order.direction)],
                                           window(first, after, last, before))
        return Connection.of(page)

    @strawberry.field(description="The chart of accounts, by code. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def ledger_accounts(self, info: CtxInfo, filter: LedgerAccountFilter | None = None,
                              first: int | None = None, after: str | None = None, last: int | None = None,
                              before: str | None = None) -> Connection[LedgerAccount]:
        return Connection.of(await lists.ledger_accounts(info, filter, window(first, after, last, before)))

    @strawberry.field(description="Tax rates, by location. " + PAGE_ARGS_DOC, permission_classes=AUTHENTICATED)
    async def tax_rates(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                        last: int | None = None, before: str | None = None) -> Connection[TaxRate]:
        return Connection.of(await lists.tax_rates(info, window(first, after, last, before)))

    @strawberry.field(description="Accounting periods, newest month first. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def accounting_periods(self, info: CtxInfo, filter: AccountingPeriodFilter | None = None,
                                 first: int | None = None, after: str | None = None, last: int | None = None,
                                 before: str | None = None) -> Connection[AccountingPeriod]:
        return Connection.of(await lists.accounting_periods(info, filter, window(first, after, last, before)))

    @strawberry.field(description="Teams (all for ADMIN, else those the viewer is a member of), by name. "
                      + PAGE_ARGS_DOC, permission_classes=AUTHENTICATED)
    async def teams(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                    last: int | None = None, before: str | None = None) -> Connection[Team]:
        return Connection.of(await lists.teams(info, window(first, after, last, before)))

    @strawberry.field(description="The company's four-eyes approval rules (needs BILLING_ACCESS). " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def approval_rules(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                             last: int | None = None, before: str | None = None) -> Connection[ApprovalRule]:
        return Connection.of(await lists.approval_rules(info, window(first, after, last, before)))

    @strawberry.field(description="Billing schedules, by name (needs BILLING_ACCESS). " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def billing_schedules(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                                last: int | None = None, before: str | None = None) -> Connection[BillingSchedule]:
        return Connection.of(await lists.billing_schedules(info, window(first, after, last, before)))

    @strawberry.field(description="Users (all for ADMIN, else only the viewer), by e-mail. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def users(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                    last: int | None = None, before: str | None = None) -> Connection[User]:
        return Connection.of(await lists.users(info, window(first, after, last, before)))

    @strawberry.field(description="API tokens (all for ADMIN, else the viewer's own), newest first. "
                      + PAGE_ARGS_DOC, permission_classes=AUTHENTICATED)
    async def api_tokens(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                         last: int | None = None, before: str | None = None) -> Connection[ApiToken]:
        return Connection.of(await lists.api_tokens(info, window(first, after, last, before)))

    @strawberry.field(description="Billing batches, newest first. " + PAGE_ARGS_DOC, permission_classes=AUTHENTICATED)
    async def billing_batches(self, info: CtxInfo, filter: BillingBatchFilter | None = None,
                              first: int | None = None, after: str | None = None, last: int | None = None,
                              before: str | None = None) -> Connection[BillingBatch]:
        return Connection.of(await lists.billing_batches(info, filter, window(first, after, last, before)))

    @strawberry.field(description="One billing batch; null when absent.", permission_classes=AUTHENTICATED)
    async def billing_batch(self, info: CtxInfo, id: relay.GlobalID) -> BillingBatch | None:
        return await billing.billing_batch(info, id)

    @strawberry.field(description="One periodic billing; null when absent or hidden.",
                      permission_classes=AUTHENTICATED)
    async def periodic_billing(self, info: CtxInfo, id: relay.GlobalID) -> PeriodicBilling | None:
        return await billing.periodic_billing(info, id)

    @strawberry.field(description="The audit trail, newest first. " + PAGE_ARGS_DOC, permission_classes=AUTHENTICATED)
    async def audits(self, info: CtxInfo, filter: AuditFilter | None = None, first: int | None = None,
                     after: str | None = None, last: int | None = None,
                     before: str | None = None) -> Connection[Audit]:
        return Connection.of(await lists.audits(info, filter, window(first, after, last, before)))

    @strawberry.field(description="One background job; null when absent.", permission_classes=AUTHENTICATED)
    async def job(self, info: CtxInfo, id: relay.GlobalID) -> Job | None:
        return await billing.job(info, id)

    @strawberry.field(description="Invoices of accounts the viewer may see, by number. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def invoices(self, info: CtxInfo, filter: InvoiceFilter | None = None,
                       order_by: InvoiceOrder | None = None, first: int | None = None, after: str | None = None,
                       last: int | None = None, before: str | None = None) -> Connection[Invoice]:
        return Connection.of(await ledger.invoices_page(info, filter, order_by, window(first, after, last, before)))

    @strawberry.field(description="One invoice; null when absent or hidden.", permission_classes=AUTHENTICATED)
    async def invoice(self, info: CtxInfo, id: relay.GlobalID) -> Invoice | None:
        return await ledger.invoice(info, id)

    @strawberry.field(description="Credit notes of accounts the viewer may see, newest first. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def credit_notes(self, info: CtxInfo, filter: CreditNoteFilter | None = None, first: int | None = None,
                           after: str | None = None, last: int | None = None,
                           before: str | None = None) -> Connection[CreditNote]:
        return Connection.of(await credit_notes.credit_notes_page(info, filter, window(first, after, last, before)))

    @strawberry.field(description="One credit note; null when absent or hidden.", permission_classes=AUTHENTICATED)
    async def credit_note(self, info: CtxInfo, id: relay.GlobalID) -> CreditNote | None:
        return await credit_notes.credit_note(info, id)

    @strawberry.field(description="System notifications, newest first. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def notifications(self, info: CtxInfo, filter: NotificationFilter | None = None,
                            first: int | None = None, after: str | None = None, last: int | None = None,
                            before: str | None = None) -> Connection[Notification]:
        return Connection.of(await lists.notifications(info, filter, window(first, after, last, before)))

    @strawberry.field(description="The event log: every event the viewer may see, kept for "
                      "BILLRUN_EVENT_RETENTION_DAYS (docs/EVENTS.md). Oldest first by default, so `after: <cursor>` "
                      "catches up on what came since; cursors are the events' cursors. " + PAGE_ARGS_DOC,
                      permission_classes=AUTHENTICATED)
    async def events(self, info: CtxInfo, filter: EventFilter | None = None,
                     order: EventOrder = EventOrder.OLDEST_FIRST, first: int | None = None,
                     after: str | None = None, last: int | None = None,
                     before: str | None = None) -> Connection[Event]:
        return Connection.of(await events.events_page(info, filter, order == EventOrder.NEWEST_FIRST,
                                                      window(first, after, last, before)))

    @strawberry.field(description="Webhook endpoints, newest first (ADMIN; empty for everyone else). "
                      + PAGE_ARGS_DOC, permission_classes=AUTHENTICATED)
    async def webhook_endpoints(self, info: CtxInfo, first: int | None = None, after: str | None = None,
                                last: int | None = None, before: str | None = None) -> Connection[WebhookEndpoint]:
        return Connection.of(await webhooks.endpoints(info, window(first, after, last, before)))

    @strawberry.field(description="The delivery log of one webhook endpoint: every attempt, newest first (ADMIN; "
                      "empty for everyone else). " + PAGE_ARGS_DOC, permission_classes=AUTHENTICATED)
    async def webhook_deliveries(self, info: CtxInfo, endpoint_id: relay.GlobalID, first: int | None = None,
                                 after: str | None = None, last: int | None = None,
                                 before: str | None = None) -> Connection[WebhookDelivery]:
        return Connection.of(await webhooks.deliveries(info, endpoint_id, window(first, after, last, before)))

    @strawberry.field(description="Debits and credits per ledger account, entries dated up to `asOf` (default: "
                      "all). Needs BILLING_ACCESS; null without it.", permission_classes=AUTHENTICATED)
    async def trial_balance(self, info: CtxInfo, as_of: date | None = None) -> TrialBalance | None:
        return await ledger.trial_balance(info, as_of)
