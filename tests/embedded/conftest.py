"""Fixtures of the embedded suite."""

from collections.abc import Iterator

import pytest

from tests.support.live_server import demo_server


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """One `make run` server (migrated, the demo loaded, serving) for the session's tests that drive it as a client
    would: its port and the demo token. Tests share it, so each works on batches of its own."""
    with demo_server(tmp_path_factory.mktemp("demo")) as served:
        yield served
