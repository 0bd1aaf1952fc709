"""Crashing workers on purpose: a worker armed to die at fault points (`domain.faults`), and the fresh worker
that takes over (`Keeper`: one after another for a whole run). Each point fires once, in whichever process
reaches it first (a marker file remembers it)."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
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


@dataclass
class Death:
    """One worker that died at a fault point: which point, when, and how long until the run moved on again
    (`Keeper`'s progress grew, or nothing was left to do)."""

    point: str
    at: float
    recovery_seconds: float | None = None


class Keeper:
    """Keeps `workers` workers of `crash` running for a whole run: each time one dies at a fault point, the death
    is noted and a replacement started at once, as a supervisor (systemd, Kubernetes) would, while the others
    go on. `progress()` (any growing count of work done) times each recovery: from the death to the first
    growth after it (or the end of the run, when nothing was left to redo)."""

    def __init__(self, crash: Crash, progress: Callable[[], Awaitable[int]], workers: int = 2,
                 threads: int = 2) -> None:
        self.crash, self.progress, self.size, self.threads = crash, progress, workers, threads
        self.deaths: list[Death] = []
        self.exits = 0  # workers seen dead (each at one fault point: checked against `deaths` at the end)
        self.boots: list[float] = []  # seconds each replacement took to be ready
        self.unexpected: list[str] = []  # workers that exited otherwise than at a fault point, with their logs
        self.workers: list[WorkerProcess] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def log(self) -> str:
        """The last lines of every running worker's output (for failure reports)."""
        return "\n".join("".join(worker.log[-25:]) for worker in self.workers)

    async def __aenter__(self) -> "Keeper":
        self.workers = list(await asyncio.gather(*(asyncio.to_thread(self.crash.replacement, self.threads)
                                                   for _ in range(self.size))))
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stopping = True
        assert self._task is not None
        await self._task
        await asyncio.gather(*(asyncio.to_thread(worker.stop) for worker in self.workers))

    async def _replace(self, dead: WorkerProcess) -> None:
        code = dead.proc.returncode if dead.proc else None
        if code != faults.KILLED:  # not a fault point: the run goes on, the test fails on `unexpected`
            self.unexpected.append(f"a worker exited with {code}:\n" + "".join(dead.log[-30:]))
        dead._forget()
        self.exits += 1
        started = time.monotonic()
        fresh = await asyncio.to_thread(self.crash.replacement, self.threads)
        self.workers[self.workers.index(dead)] = fresh
        self.boots.append(time.monotonic() - started)

    async def _watch(self) -> None:
        waiting: list[tuple[Death, int]] = []  # deaths whose recovery is not timed yet, with the progress then
        booting: set[asyncio.Task[None]] = set()
        replacing: set[int] = set()
        while not self._stopping or waiting or booting:
            try:
                done = await self.progress()
            except Exception as error:  # the database busy for a moment: noted, the watch goes on
                self.unexpected.append(f"progress: {error!r}")
                await asyncio.sleep(0.5)
                continue
            now = time.monotonic()
            for death, before in list(waiting):
                if done > before or self._stopping:
                    death.recovery_seconds = now - death.at
                    waiting.remove((death, before))
            seen = {d.point for d in self.deaths}
            for point in self.crash.fired():
                if point not in seen:
                    death = Death(point, now)
                    self.deaths.append(death)
                    waiting.append((death, done))
            for worker in self.workers:
                if not worker.alive and id(worker) not in replacing and not self._stopping:
                    replacing.add(id(worker))
                    booting.add(asyncio.create_task(self._replace(worker)))
            for task in [t for t in booting if t.done()]:
                booting.discard(task)
                if task.exception() is not None:  # a replacement that did not start: noted, and tried again
                    self.unexpected.append(repr(task.exception()))
                    replacing.clear()
            await asyncio.sleep(0.05)
        for worker in self.workers:  # one that died as the run ended, not replaced
            if not worker.alive and worker.proc is not None:
                if worker.proc.returncode == faults.KILLED:
                    self.exits += 1
                else:
                    self.unexpected.append(f"a worker exited with {worker.proc.returncode}")
