"""A real Dramatiq worker process consuming the real Redis broker, as `billrun worker` runs it."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`python -m dramatiq workers.actors`, its output collected by a thread (and kept for failure reports).
    `env` adds to (or overrides) this process's environment for the worker, e.g. settings or fault points.
    `cli=True` starts it as production does, `billrun worker` (billrun's log set-up, the metrics endpoint).
    `namespace`: run it inside that network namespace (`ip netns exec`, the same process: its PID is the
    worker's), another "host" of the test's own making."""

    running: ClassVar[list["WorkerProcess"]] = []  # started and not stopped, so a test can run its own alone

    def __init__(self, processes: int = 1, threads: int = 2, env: dict[str, str] | None = None,
                 cli: bool = False, namespace: str | None = None) -> None:
        command = ["billrun", "worker"] if cli else ["dramatiq", "workers.actors"]
        inside = ["ip", "netns", "exec", namespace] if namespace else []
        self.args = [*inside, sys.executable, "-m", *command, "--processes", str(processes), "--threads",
                     str(threads)]
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)
            self._lines.put(line)

    def start(self, timeout: float = 60.0, processes_ready: int | None = None) -> "WorkerProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self._lines = queue.Queue()
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        WorkerProcess.running.append(self)
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

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, within: float) -> int:
        """Wait for the worker to end on its own (a fault point ends its worker process, and the master follows);
        returns the master's exit code."""
        assert self.proc is not None
        deadline = time.monotonic() + within
        while (code := self.proc.poll()) is None:
            if time.monotonic() > deadline:
                raise AssertionError("the worker did not exit:\n" + "".join(self.log[-40:]))
            time.sleep(0.05)
        self._forget()
        return code

    def stop(self, timeout: float = 20.0) -> None:
        """Signal only the master PID (SIGTERM to the group can hang dramatiq)."""
        self._forget()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """A hard stop, no graceful shutdown: its worker processes first, or they outlive the master."""
        self._forget()
        if self.proc is None or self.proc.poll() is not None:
            return
        for pid in self.worker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.kill()
        self.proc.wait()

    def worker_pids(self) -> set[int]:
        """The PIDs of its worker processes (dramatiq names them in its log lines), the master's aside."""
        pids = {int(line.split("[PID ")[1].split("]")[0]) for line in self.log if "[PID " in line}
        return pids - {self.pid}

    @classmethod
    def stop_all(cls) -> None:
        """Stop every worker still running (the end of a test session)."""
        for worker in list(cls.running):
            worker.stop()

    def _forget(self) -> None:
        if self in WorkerProcess.running:
            WorkerProcess.running.remove(self)


@contextmanager
def others_paused() -> Iterator[None]:
    """Stop every worker still running (the session's shared one, say) and start them again afterwards, so the
    workers a test starts inside are the only ones consuming the queues. One killed by a test stays dead."""
    paused = [worker for worker in WorkerProcess.running if worker.alive]
    WorkerProcess.running[:] = paused
    for worker in paused:
        worker.stop()
    try:
        yield
    finally:
        for worker in paused:
            worker.start()
