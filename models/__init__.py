"""Tortoise models of billrun, one module per part of the domain, migrations live in `models/migrations`."""

from models.access import AccessToken, AccountGrant, LoginAttempt, User
from models.billing import BillingBatch, BillingDetail, Finding, PeriodicBilling, RevenueDistribution
from models.ledger import (
    Delivery,
    Export,
    Invoice,
    JournalEntry,
    JournalLine,
    NumberSequence,
    Payment,
    SandboxCharge,
)
from models.master import (
    Account,
    AccountingPeriod,
    DatedPrice,
    InvoiceAdjustment,
    LedgerAccount,
    ManualCharge,
    RecurringCharge,
    SalesContract,
    ServiceChange,
    TaxRate,
    WorkOrder,
)
from models.operations import Audit, Event, IdempotencyRecord, Job, JobChunk, Notification
from models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "AccessToken",
    "Account",
    "AccountGrant",
    "AccountingPeriod",
    "Audit",
    "BillingBatch",
    "BillingDetail",
    "DatedPrice",
    "Delivery",
    "Event",
    "Export",
    "Finding",
    "IdempotencyRecord",
    "Invoice",
    "InvoiceAdjustment",
    "Job",
    "JobChunk",
    "JournalEntry",
    "JournalLine",
    "LedgerAccount",
    "LoginAttempt",
    "ManualCharge",
    "Notification",
    "NumberSequence",
    "Payment",
    "PeriodicBilling",
    "RecurringCharge",
    "RevenueDistribution",
    "SalesContract",
    "SandboxCharge",
    "ServiceChange",
    "TaxRate",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WorkOrder",
]
