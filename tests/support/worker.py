"""A real Dramatiq worker process consuming the real Redis broker, as `billrun worker` runs it."""

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, processes: int = 1, threads: int = 2) -> None:
        self.args = [sys.executable, "-m", "dramatiq", "workers.actors", "--processes", str(processes),
                     "--threads", str(threads)]
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []

    def start(self, timeout: float = 60.0) -> "WorkerProcess":
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                self.log.append(line)
                if "ready for action" in line.lower():
                    os.set_blocking(self.proc.stdout.fileno(), False)
                    return self
            if self.proc.poll() is not None:
                break
        raise RuntimeError("Dramatiq worker did not start:\n" + "".join(self.log))

    def stop(self, timeout: float = 20.0) -> None:
        """Signal only the master PID (SIGTERM to the group can hang dramatiq)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
