"""Accounting periods: calendar months of the books, open or closed (docs/BILLING.md)."""

from datetime import date
from typing import cast

from dateutil.relativedelta import relativedelta

import models
from domain import audit, clock, events, validation
from domain.access import Viewer, require
from domain.errors import DomainError, ErrorCode, not_found
from domain.transactions import in_transaction
from models.enums import BatchStatus, PeriodStatus, Permission


def month_of(day: date) -> date:
    return day.replace(day=1)


async def create_period(viewer: Viewer, month: date) -> models.AccountingPeriod:
    """Open the books for a month (ADMIN). Any day of the month names it."""
    require(viewer, Permission.ADMIN)
    first = month_of(month)
    if await models.AccountingPeriod.exists(month=first):
        raise DomainError(ErrorCode.DUPLICATE, f"The period {first:%Y-%m} exists.", "month")
    async with in_transaction():
        period = await models.AccountingPeriod.create(month=first, status=PeriodStatus.OPEN)
        await events.accounting_period_changed(period, viewer)
    return period


async def is_open(day: date) -> bool:
    """True when `day` falls in an open accounting period."""
    return await models.AccountingPeriod.exists(month=month_of(day), status=PeriodStatus.OPEN)


async def close_period(viewer: Viewer, period_id: int) -> models.AccountingPeriod:
    """Close a month (ADMIN): refused while a batch dated in it is still short of POSTED."""
    require(viewer, Permission.ADMIN)
    period = await models.AccountingPeriod.get_or_none(id=period_id)
    if period is None:
        raise not_found("Accounting period")
    if period.status == PeriodStatus.CLOSED:
        raise DomainError(ErrorCode.INVALID_STATUS, "The period is closed already.", "id")
    end = period.month + relativedelta(months=1)
    open_batches = cast(list[str], await models.BillingBatch.filter(
        invoice_date__gte=period.month, invoice_date__lt=end).exclude(
        status__in=[BatchStatus.POSTED, BatchStatus.COMPLETED]).values_list("code", flat=True))
    if open_batches:
        raise DomainError(ErrorCode.INVALID_STATUS, "Batches dated in this period are not posted yet: "
                          + ", ".join(sorted(open_batches)), "id")
    async with in_transaction():
        period.status, period.closed_at, period.closed_by_id = PeriodStatus.CLOSED, clock.now(), viewer.user_id
        await period.save(update_fields=["status", "closed_at", "closed_by_id"])
        await audit.record(viewer, "AccountingPeriod", period.id, {"status": (PeriodStatus.OPEN, PeriodStatus.CLOSED)},
                           "CLOSE")
        await events.accounting_period_changed(period, viewer)
    return period


async def reopen_period(viewer: Viewer, period_id: int, reason: str) -> models.AccountingPeriod:
    """Reopen a closed month (ADMIN, with a reason); audited."""
    require(viewer, Permission.ADMIN)
    period = await models.AccountingPeriod.get_or_none(id=period_id)
    if period is None:
        raise not_found("Accounting period")
    if not reason.strip():
        raise DomainError(ErrorCode.INVALID_INPUT, "Say why the period is reopened.", "reason")
    validation.check_text(models.AccountingPeriod, {"reopen_reason": reason}, {"reopen_reason": "reason"})
    if period.status == PeriodStatus.OPEN:
        raise DomainError(ErrorCode.INVALID_STATUS, "The period is open already.", "id")
    async with in_transaction():
        period.status, period.reopen_reason = PeriodStatus.OPEN, reason.strip()
        await period.save(update_fields=["status", "reopen_reason"])
        await audit.record(viewer, "AccountingPeriod", period.id, {"status": (PeriodStatus.CLOSED, PeriodStatus.OPEN),
                                                                   "reopen_reason": (None, reason.strip())}, "REOPEN")
        await events.accounting_period_changed(period, viewer, reason.strip())
    return period
