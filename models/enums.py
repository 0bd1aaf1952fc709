"""Enumerations stored in the database and exposed, unchanged, as GraphQL enums."""

from enum import StrEnum


class Permission(StrEnum):
    """What a user or token may do (docs/ACCESS.md)."""

    BILLING_ACCESS = "BILLING_ACCESS"
    BILLING_SEND_EXPORT = "BILLING_SEND_EXPORT"
    BILLING_APPROVE = "BILLING_APPROVE"
    ADMIN = "ADMIN"


class TokenKind(StrEnum):
    SESSION = "SESSION"
    API = "API"


class BillingFrequency(StrEnum):
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    SEMI_ANNUAL = "SEMI_ANNUAL"
    ANNUAL = "ANNUAL"


class ContractStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ENDED = "ENDED"


class WorkOrderStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"


class AdjustmentKind(StrEnum):
    CREDIT = "CREDIT"
    DEBIT = "DEBIT"


class PeriodStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class LedgerAccountKind(StrEnum):
    RECEIVABLE = "RECEIVABLE"
    REVENUE = "REVENUE"
    TAX_PAYABLE = "TAX_PAYABLE"
    CASH = "CASH"
    OTHER = "OTHER"


class BatchStatus(StrEnum):
    NOT_STARTED = "NOT_STARTED"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    POSTING = "POSTING"
    POSTED = "POSTED"
    COMPLETED = "COMPLETED"


class PostMode(StrEnum):
    SEND = "SEND"
    EXPORT = "EXPORT"


class BillingStatus(StrEnum):
    NEW = "NEW"
    CANCELLED = "CANCELLED"
    HOLD = "HOLD"
    REJECTED = "REJECTED"
    APPROVAL_IN_PROCESS = "APPROVAL_IN_PROCESS"
    APPROVED = "APPROVED"
    INVOICED = "INVOICED"
    REJECTED_WITH_ERRORS = "REJECTED_WITH_ERRORS"


class DetailKind(StrEnum):
    RECURRING = "RECURRING"
    WORK_ORDER = "WORK_ORDER"
    MANUAL = "MANUAL"
    SERVICE_CHANGE = "SERVICE_CHANGE"
    ADJUSTMENT = "ADJUSTMENT"
    MISC = "MISC"
    TAX = "TAX"


class PriceSource(StrEnum):
    CONTRACT_CHARGE = "CONTRACT_CHARGE"
    DATED_PRICE = "DATED_PRICE"


class InvoiceStatus(StrEnum):
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"


class PaymentStatus(StrEnum):
    """PENDING until the gateway answers; UNKNOWN when it did not (a timeout after the charge was sent), until
    the sweeper asks the gateway what happened."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    DECLINED = "DECLINED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


class DeliveryChannel(StrEnum):
    SMTP = "SMTP"
    OUTBOX_FILE = "OUTBOX_FILE"


class DeliveryStatus(StrEnum):
    """SENDING while a worker sends it (the claim that keeps two workers from sending one invoice), then SENT
    or FAILED."""

    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class Severity(StrEnum):
    ERROR = "ERROR"
    WARNING = "WARNING"


class NotificationStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class JobKind(StrEnum):
    PROCESS = "PROCESS"
    ANALYZE = "ANALYZE"
    REVERSE = "REVERSE"
    POST = "POST"
    SEND = "SEND"
    AUTO_PAY = "AUTO_PAY"
    EXPORT = "EXPORT"
    MASS_UPDATE = "MASS_UPDATE"
    CREDIT_NOTE = "CREDIT_NOTE"


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ExportFormat(StrEnum):
    """Accounting export files (docs/ACCOUNTING_EXPORT.md says which import formats they match)."""

    INVOICES_CSV = "INVOICES_CSV"
    JOURNAL_CSV = "JOURNAL_CSV"


class EventType(StrEnum):
    """What an event of the event stream reports (docs/EVENTS.md: one payload shape per type)."""

    BATCH_CREATED = "BATCH_CREATED"
    BATCH_STATUS_CHANGED = "BATCH_STATUS_CHANGED"
    BATCH_ANALYZED = "BATCH_ANALYZED"
    JOB_QUEUED = "JOB_QUEUED"
    JOB_PROGRESS = "JOB_PROGRESS"
    JOB_FINISHED = "JOB_FINISHED"
    BILLING_DISPOSITIONED = "BILLING_DISPOSITIONED"
    BILLINGS_MASS_DISPOSITIONED = "BILLINGS_MASS_DISPOSITIONED"
    BILLING_EDITED = "BILLING_EDITED"
    BILLING_DELETED = "BILLING_DELETED"
    BILLINGS_MOVED = "BILLINGS_MOVED"
    FINDING_RESOLVED = "FINDING_RESOLVED"
    NOTIFICATION_OPENED = "NOTIFICATION_OPENED"
    NOTIFICATION_RESOLVED = "NOTIFICATION_RESOLVED"
    INVOICES_POSTED = "INVOICES_POSTED"
    PAYMENT_SETTLED = "PAYMENT_SETTLED"
    INVOICE_DELIVERED = "INVOICE_DELIVERED"
    INVOICE_DELIVERY_FAILED = "INVOICE_DELIVERY_FAILED"
    EXPORT_CREATED = "EXPORT_CREATED"
    ACCOUNTING_PERIOD_CHANGED = "ACCOUNTING_PERIOD_CHANGED"
    WEBHOOK_ENDPOINT_DISABLED = "WEBHOOK_ENDPOINT_DISABLED"
    CREDIT_NOTE_CREATED = "CREDIT_NOTE_CREATED"
    CREDIT_NOTE_ISSUED = "CREDIT_NOTE_ISSUED"
    CREDIT_NOTE_VOIDED = "CREDIT_NOTE_VOIDED"
    CREDIT_APPLIED = "CREDIT_APPLIED"
    REFUND_SETTLED = "REFUND_SETTLED"
    TEAM_CHANGED = "TEAM_CHANGED"
    APPROVAL_RULE_CHANGED = "APPROVAL_RULE_CHANGED"
    SCHEDULE_CHANGED = "SCHEDULE_CHANGED"
    SCHEDULE_RAN = "SCHEDULE_RAN"
    BATCH_POST_REQUESTED = "BATCH_POST_REQUESTED"


class WebhookDeliveryState(StrEnum):
    """Where one webhook attempt stands (docs/WEBHOOKS.md)."""

    QUEUED = "QUEUED"  # a redelivery waiting for its worker
    SENDING = "SENDING"  # a redelivery being sent
    DELIVERED = "DELIVERED"  # answered 2xx
    RETRYING = "RETRYING"  # failed; the next attempt is due at next_retry_at
    FAILED = "FAILED"  # failed, and no attempt follows (the schedule is spent, or a redelivery)


class BillingEdit(StrEnum):
    """Which edit a BILLING_EDITED event reports."""

    LINE_CHANGED = "LINE_CHANGED"
    MISC_CHARGE_ADDED = "MISC_CHARGE_ADDED"
    MISC_CHARGE_REMOVED = "MISC_CHARGE_REMOVED"
    BILLING_CHANGED = "BILLING_CHANGED"


class CreditNoteReason(StrEnum):
    """Why an invoice is credited (the fixed set Stripe and Lago use)."""

    DUPLICATED_CHARGE = "DUPLICATED_CHARGE"
    PRODUCT_UNSATISFACTORY = "PRODUCT_UNSATISFACTORY"
    ORDER_CHANGE = "ORDER_CHANGE"
    ORDER_CANCELLATION = "ORDER_CANCELLATION"
    FRAUDULENT_CHARGE = "FRAUDULENT_CHARGE"
    OTHER = "OTHER"


class CreditNoteStatus(StrEnum):
    """DRAFT (no effect yet, voidable), ISSUED (numbered, journaled, final) or VOIDED (a draft dropped)."""

    DRAFT = "DRAFT"
    ISSUED = "ISSUED"
    VOIDED = "VOIDED"


class CreditStatus(StrEnum):
    """The account-credit part of a credit note: AVAILABLE until applied to later invoices, then CONSUMED;
    VOIDED when its draft was voided."""

    AVAILABLE = "AVAILABLE"
    CONSUMED = "CONSUMED"
    VOIDED = "VOIDED"


class RefundStatus(StrEnum):
    """The refund part of a credit note, through the payment gateway (UNKNOWN: the answer was lost, the
    sweeper asks the gateway)."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


class Change(StrEnum):
    """What happened to a team, an approval rule or a schedule (TEAM_CHANGED, APPROVAL_RULE_CHANGED,
    SCHEDULE_CHANGED events)."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    MEMBER_ADDED = "MEMBER_ADDED"
    MEMBER_REMOVED = "MEMBER_REMOVED"
    PAUSED = "PAUSED"
    RESUMED = "RESUMED"


class ApprovalRuleKind(StrEnum):
    """A company-level four-eyes rule (docs/APPROVALS.md)."""

    BILLING_AMOUNT_ABOVE = "BILLING_AMOUNT_ABOVE"
    CHANGE_FROM_PREVIOUS_ABOVE_PERCENT = "CHANGE_FROM_PREVIOUS_ABOVE_PERCENT"
    BATCH_TOTAL_ABOVE = "BATCH_TOTAL_ABOVE"


class Cadence(StrEnum):
    """How often a billing schedule runs (docs/SCHEDULES.md)."""

    MONTHLY = "MONTHLY"
    WEEKLY = "WEEKLY"
    QUARTERLY = "QUARTERLY"


class AutoAdvance(StrEnum):
    """How far a scheduled run goes by itself: create the batch, also analyze it, or also process it."""

    CREATE = "CREATE"
    ANALYZE = "ANALYZE"
    PROCESS = "PROCESS"
