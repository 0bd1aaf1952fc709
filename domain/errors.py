"""Typed business-rule refusals. Clients switch on `ErrorCode`, never on the message."""

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Every code a mutation payload may carry in `errors { code field message }`."""

    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    INVALID_INPUT = "INVALID_INPUT"
    DUPLICATE = "DUPLICATE"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    LOGIN_RATE_LIMITED = "LOGIN_RATE_LIMITED"
    INVALID_CURRENCY = "INVALID_CURRENCY"
    UNKNOWN_REVENUE_ACCOUNT = "UNKNOWN_REVENUE_ACCOUNT"
    UNKNOWN_LEDGER_ACCOUNT = "UNKNOWN_LEDGER_ACCOUNT"
    OVERLAPPING_DATED_PRICE = "OVERLAPPING_DATED_PRICE"
    PERIOD_CLOSED = "PERIOD_CLOSED"
    PERIOD_NOT_FOUND = "PERIOD_NOT_FOUND"
    INVALID_STATUS = "INVALID_STATUS"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    LATER_BILLING_EXISTS = "LATER_BILLING_EXISTS"
    EARLIER_BILLING_NOT_DISPOSITIONED = "EARLIER_BILLING_NOT_DISPOSITIONED"
    BILLINGS_NOT_DISPOSITIONED = "BILLINGS_NOT_DISPOSITIONED"
    UNRESOLVED_FINDINGS = "UNRESOLVED_FINDINGS"
    HIDDEN_INVOICES = "HIDDEN_INVOICES"
    HIDDEN_BILLINGS = "HIDDEN_BILLINGS"
    BATCH_LOCKED = "BATCH_LOCKED"
    NOT_READY = "NOT_READY"
    LEDGER_NOT_CONFIGURED = "LEDGER_NOT_CONFIGURED"
    CONCURRENT_UPDATE = "CONCURRENT_UPDATE"
    CREDIT_EXCEEDS_OPEN_AMOUNT = "CREDIT_EXCEEDS_OPEN_AMOUNT"
    REFUND_EXCEEDS_PAID = "REFUND_EXCEEDS_PAID"
    INVOICE_NOT_CREDITED = "INVOICE_NOT_CREDITED"
    FOUR_EYES_REQUIRED = "FOUR_EYES_REQUIRED"
    IDEMPOTENCY_KEY_MISMATCH = "IDEMPOTENCY_KEY_MISMATCH"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    URL_NOT_ALLOWED = "URL_NOT_ALLOWED"


@dataclass(frozen=True)
class Problem:
    """One refusal: what went wrong (code), on which input field (if any), in words for a person."""

    code: ErrorCode
    message: str
    field: str | None = None


class DomainError(Exception):
    """A refused business rule; carries one or more `Problem`s. Nothing was written."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None,
                 *, problems: list[Problem] | None = None) -> None:
        self.problems = problems or [Problem(code, message, field)]
        super().__init__("; ".join(p.message for p in self.problems))

    @classmethod
    def of(cls, problems: list[Problem]) -> "DomainError":
        first = problems[0]
        return cls(first.code, first.message, first.field, problems=problems)

    @property
    def code(self) -> ErrorCode:
        return self.problems[0].code


def not_found(what: str, field: str | None = "id") -> DomainError:
    """Hidden and absent records get the same answer (docs/ACCESS.md)."""
    return DomainError(ErrorCode.NOT_FOUND, f"{what} not found.", field)


def raise_if(problems: list[Problem]) -> None:
    """Raise all collected input problems at once, so a client can fix them in one go."""
    if problems:
        raise DomainError.of(problems)
