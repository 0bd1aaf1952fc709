"""A real server process, started the way production starts it (`billrun serve`), for WebSocket and raw HTTP
tests; it shares the test database and broker through the environment."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from tests.support.worker import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(*, workers: int = 1, output: IO[str] | None = None, **env: str) -> Iterator[int]:
    """`python -m billrun serve` on a free port (yielded) with extra environment, stopped afterwards; `workers`
    uvicorn processes; what it prints goes to `output` when given."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "billrun", "serve", "--port", str(port), "--workers",
                             str(workers)], cwd=ROOT, env={**os.environ, "BILLRUN_LOG_LEVEL": "WARNING", **env},
                            stdout=output, stderr=subprocess.STDOUT if output is not None else None)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # stuck (e.g. a request holding its event loop): no graceful stop
            proc.kill()
            proc.wait()
