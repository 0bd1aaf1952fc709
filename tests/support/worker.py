"""A real Dramatiq worker process consuming the real Redis broker, as `billrun worker` runs it."""

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python -m dramatiq workers.actors`, its output collected by a thread (and kept for failure reports)."""

    def __init__(self, processes: int = 1, threads: int = 2) -> None:
        self.args = [sys.executable, "-m", "dramatiq", "workers.actors", "--processes", str(processes),
                     "--threads", str(threads)]
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            self._lines.put(line)

    def start(self, timeout: float = 60.0, processes_ready: int | None = None) -> "WorkerProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        wanted = processes_ready or int(self.args[self.args.index("--processes") + 1])
        ready = 0
        while ready < wanted:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.proc.kill()
                raise RuntimeError("Dramatiq worker did not start:\n" + "".join(self.log)) from None
            ready += "ready for action" in line.lower()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

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
