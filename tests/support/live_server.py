"""A real server process, started the way production starts it (`billrun serve`), for WebSocket and raw HTTP
tests; it shares the test database and broker through the environment."""

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
        deadline = time.monotonic() + 60  # a loaded machine (CI's two cores) may take a while
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


@contextmanager
def demo_server(home: Path) -> Iterator[tuple[int, str]]:
    """`make run` on the embedded default, in `home`: `billrun migrate`, `billrun demo` and `billrun serve` on an
    SQLite file of its own (never the suite's: one process per SQLite file). Yields its port and the demo token."""
    overrides = {"DATABASE_URL": f"sqlite://{home / 'run.sqlite3'}", "BILLRUN_ENV": "development",
                 "BILLRUN_OUTBOX_DIR": str(home / "outbox")}
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | overrides
    command = [sys.executable, "-m", "billrun"]
    subprocess.run([*command, "migrate"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    printed = subprocess.run([*command, "demo"], cwd=ROOT, env=env, check=True, capture_output=True, text=True,
                             timeout=120).stdout
    token = re.search(r"\b(brn_[\w-]+)", printed)
    assert token, printed
    with live_server(**overrides) as port:
        yield port, token.group(1)
