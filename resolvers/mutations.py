"""Running a mutation: the domain call either returns its result or refuses with problems for the payload."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from billrun import metrics
from domain.errors import DomainError, Problem

T = TypeVar("T")


async def perform(action: Callable[[], Awaitable[T]]) -> tuple[T | None, list[Problem]]:
    """Run a domain action; a DomainError becomes payload errors, anything else propagates (a bug)."""
    try:
        return await action(), []
    except DomainError as error:
        metrics.record_refusals(problem.code for problem in error.problems)
        return None, error.problems


def payload(cls: type, name: str, result: tuple[Any, list[Problem]]) -> Any:
    """Build `cls(<name>=value, errors=[...])` from a `perform` result."""
    value, problems = result
    return cls(**{name: value, "errors": problems})
