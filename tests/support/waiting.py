"""Waiting for a condition of the system under test: poll it, give up after a deadline with what was last seen."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 30.0, every: float = 0.05) -> Any:
    """Poll `check()` every `every` seconds until it returns something truthy (returned); fail the test naming
    `what` and the last value seen if `within` seconds pass first. A timeout for a wait, not a measure of speed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (seen := await check()):
        if loop.time() >= deadline:
            pytest.fail(f"gave up after {within:g} s waiting for {what} (last seen: {seen!r})")
        await asyncio.sleep(every)
    return seen


def until_sync(check: Callable[[], Any], what: str, within: float = 30.0, every: float = 0.05) -> Any:
    """`until` for code outside an event loop (a blocking client, a fixture driving a subprocess): poll `check()`
    every `every` seconds until it returns something truthy (returned); fail naming `what` and the last value."""
    deadline = time.monotonic() + within
    while not (seen := check()):
        if time.monotonic() >= deadline:
            pytest.fail(f"gave up after {within:g} s waiting for {what} (last seen: {seen!r})")
        time.sleep(every)
    return seen
