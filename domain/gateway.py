"""Payment gateways: the interface auto-pay charges through, and the built-in sandbox (docs/BILLING.md).

A gateway takes an idempotency key with every charge (and every refund) and must answer a repeated key with
the first charge's outcome, never charging twice (as Stripe, Adyen and Braintree do). It can also be asked
afterwards what happened to a key, which is how the sweeper settles a charge whose answer was lost (`GatewayTimeout`).

The sandbox decides by payment-method token, like a provider's test mode:

| token            | outcome                                                                      |
|------------------|------------------------------------------------------------------------------|
| `tok_ok`         | succeeds                                                                     |
| `tok_decline`    | declined (card declined)                                                     |
| `tok_error`      | fails transiently on the first two calls for a key, then succeeds            |
| `tok_error_hard` | fails transiently on every call                                              |
| `tok_timeout`    | charged, but the answer is lost (a timeout): the caller learns it by lookup  |
| `tok_duplicate`  | succeeds, and the gateway answers twice (`ChargeResult.repeated`), as a      |
|                  | provider's notification arriving beside its response: the caller records it  |
|                  | twice, which must settle the payment (or refund) once                        |
| anything else    | declined (unknown payment method)                                            |

The sandbox keeps its books in its own table (`sandbox_charge`), written outside the caller's transaction,
as a provider's side would be: a charge made stays made whatever the caller does next.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tortoise.expressions import F

import models
from models.enums import PaymentStatus


@dataclass(frozen=True)
class ChargeResult:
    """What the gateway did: SUCCEEDED or DECLINED, with its reference and reason."""

    status: PaymentStatus
    reference: str
    message: str = ""
    repeated: int = 0  # the same answer delivered this many more times (the caller records each)


class TransientGatewayError(Exception):
    """The gateway could not charge now (network, 5xx): try again later with the same key."""


class GatewayTimeout(Exception):
    """No answer: the charge may or may not have been made. Look the key up later; never charge anew."""


class PaymentGateway(Protocol):
    async def charge(self, idempotency_key: str, token: str, amount: Decimal, currency: str) -> ChargeResult: ...

    async def refund(self, idempotency_key: str, token: str, amount: Decimal, currency: str) -> ChargeResult: ...

    async def lookup(self, idempotency_key: str) -> ChargeResult | None: ...


TRANSIENT_FAILURES = {"tok_error": 2}


class SandboxGateway:
    """The built-in test-mode gateway (see the module's table)."""

    async def charge(self, idempotency_key: str, token: str, amount: Decimal, currency: str) -> ChargeResult:
        row = await models.SandboxCharge.get_or_none(idempotency_key=idempotency_key)
        if row is not None:
            await models.SandboxCharge.filter(id=row.id).update(calls=F("calls") + 1)
            if row.status in (PaymentStatus.SUCCEEDED, PaymentStatus.DECLINED):
                return _result(row)  # a repeated key answers the first outcome: never charged twice
            calls = row.calls + 1
        else:
            calls = 1
        if token == "tok_error_hard" or calls <= TRANSIENT_FAILURES.get(token, 0):
            await self._store(row, idempotency_key, token, amount, currency, PaymentStatus.FAILED)
            raise TransientGatewayError(f"sandbox: processing error on attempt {calls} (token {token})")
        succeeding = ("tok_ok", "tok_error", "tok_timeout", "tok_duplicate")
        status = PaymentStatus.SUCCEEDED if token in succeeding else PaymentStatus.DECLINED
        stored = await self._store(row, idempotency_key, token, amount, currency, status)
        if token == "tok_timeout":
            raise GatewayTimeout("sandbox: the charge was made but its answer timed out")
        return _result(stored, repeated=1 if token == "tok_duplicate" else 0)

    async def refund(self, idempotency_key: str, token: str, amount: Decimal, currency: str) -> ChargeResult:
        """A refund to the payment method `token`, decided by token like a charge (`tok_ok` refunds,
        `tok_error` fails transiently twice, `tok_timeout` refunds and loses the answer, `tok_duplicate` refunds
        and answers twice, a declining or unknown token refuses it); one refund per key, kept in the same books
        (a negative amount)."""
        return await self.charge(idempotency_key, token, -amount, currency)

    async def lookup(self, idempotency_key: str) -> ChargeResult | None:
        row = await models.SandboxCharge.get_or_none(idempotency_key=idempotency_key)
        if row is None or row.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.DECLINED):
            return None
        return _result(row)

    async def _store(self, row: models.SandboxCharge | None, key: str, token: str, amount: Decimal,
                     currency: str, status: PaymentStatus) -> models.SandboxCharge:
        if row is None:
            return await models.SandboxCharge.create(idempotency_key=key, token=token, amount=amount,
                                                     currency=currency, status=status,
                                                     reference=f"sbx_{uuid.uuid4().hex[:20]}")
        row.status = status
        await row.save(update_fields=["status"])
        return row


def _result(row: models.SandboxCharge, repeated: int = 0) -> ChargeResult:
    what = "refund refused" if row.amount < 0 else "card declined"
    message = "" if row.status == PaymentStatus.SUCCEEDED else (
        what if row.token == "tok_decline" else f"unknown payment method {row.token!r}")
    return ChargeResult(row.status, row.reference, message, repeated)


def get_gateway() -> PaymentGateway:
    """The configured gateway. Only the sandbox is built in; a real provider implements `PaymentGateway`."""
    return SandboxGateway()
