"""Accounting periods: calendar months of the books, open or closed (SPEC §4)."""

from datetime import date

import models
from domain.access import Viewer, require
from domain.errors import DomainError, ErrorCode
from models.enums import PeriodStatus, Permission


def month_of(day: date) -> date:
    return day.replace(day=1)


async def create_period(viewer: Viewer, month: date) -> models.AccountingPeriod:
    """Open the books for a month (ADMIN). Any day of the month names it."""
    require(viewer, Permission.ADMIN)
    first = month_of(month)
    if await models.AccountingPeriod.exists(month=first):
        raise DomainError(ErrorCode.DUPLICATE, f"The period {first:%Y-%m} exists.", "month")
    return await models.AccountingPeriod.create(month=first, status=PeriodStatus.OPEN)


async def is_open(day: date) -> bool:
    """True when `day` falls in an open accounting period."""
    return await models.AccountingPeriod.exists(month=month_of(day), status=PeriodStatus.OPEN)
