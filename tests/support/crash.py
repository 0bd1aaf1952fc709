"""Crashing workers on purpose: a worker armed to die at fault points (`domain.faults`), and the fresh worker
that takes over. Each point fires once, in whichever process reaches it first (a marker file remembers it)."""

import asyncio
from collections.abc import Iterable
from pathlib import Path

from domain import faults
from tests.support.worker import WorkerProcess


class Crash:
    """Workers armed at `checkpoints` (names like `post.chunk.committed`; `domain.jobs.checkpoints()` lists them
    all), with `settings` as extra environment for every worker of the run."""

    def __init__(self, markers: Path, checkpoints: Iterable[str], settings: dict[str, str] | None = None) -> None:
        self.checkpoints = list(checkpoints)
        self.markers = markers
        self.env = {**(settings or {}), "BILLRUN_FAULTS": ",".join(self.checkpoints),
                    "BILLRUN_FAULTS_DIR": str(markers)}

    def victim(self, threads: int = 1) -> WorkerProcess:
        """A worker that will die at the first armed point it reaches. With one thread, that point is the only
        work in flight when it dies."""
        return WorkerProcess(processes=1, threads=threads, env=self.env).start()

    async def happens(self, victim: WorkerProcess, within: float = 120) -> list[str]:
        """Wait for the victim to die at a fault point; returns the points fired so far."""
        code = await asyncio.to_thread(victim.wait_exit, within)
        assert code == faults.KILLED, "".join(victim.log[-30:])
        fired = self.fired()
        assert fired, "the worker exited, but at no fault point"
        return fired

    def fired(self) -> list[str]:
        return [name for name in self.checkpoints if (self.markers / name).exists()]

    def replacement(self, threads: int = 2) -> WorkerProcess:
        """A fresh worker, armed the same way: points fired already stay quiet, the others may still fire."""
        return WorkerProcess(processes=1, threads=threads, env=self.env).start()
