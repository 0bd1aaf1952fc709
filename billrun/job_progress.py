"""Following a background job from the CLI: its JOB_PROGRESS events from the `jobProgress` subscription (polling
`job(id)` when no WebSocket can be had), shown as a rich progress bar with the job's rate and ETA."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn
from rich.text import Text

from billrun.client import Client, Unreachable

JOB_FIELDS = "id kind status progressDone progressTotal error createdAt startedAt finishedAt"
JOB = "query($id: ID!) { job(id: $id) { " + JOB_FIELDS + " } }"
JOB_EVENTS = """subscription($job: ID!) { jobProgress(jobId: $job) { type createdAt
  payload { __typename ... on JobProgress { done total } ... on JobFinished { jobStatus error } } } }"""
POLL_SECONDS = 0.5
FINISHED = ("SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class Step:
    """Where the job stood at `at` (the server's time of the event, or the local time of a poll)."""

    done: int
    total: int
    at: datetime
    finished: bool = False


def steps(client: Client, job_id: str) -> Iterator[Step]:
    """The job's progress until it finishes: its events as they come, or polls of `job(id)` once the socket is
    unavailable (a proxy without WebSockets, a dropped connection)."""
    try:
        for data in client.subscribe(JOB_EVENTS, {"job": job_id}):
            event = data["jobProgress"]
            payload, at = event["payload"], datetime.fromisoformat(event["createdAt"])
            if payload["__typename"] == "JobProgress":
                yield Step(payload["done"], payload["total"], at)
            elif payload["__typename"] == "JobFinished":
                yield Step(0, 0, at, finished=True)
                return
    except Unreachable:
        pass  # no socket, or it dropped: the job's own record says the rest
    while True:
        job = client.query(JOB, {"id": job_id})["job"]
        finished = job is None or job["status"] in FINISHED
        if job is not None:
            yield Step(job["progressDone"], job["progressTotal"], datetime.now(UTC), finished=finished)
        if finished:
            return
        time.sleep(POLL_SECONDS)


class Pace:
    """Units per second between the first progress report seen and the latest (by their own timestamps, so a
    burst of replayed events does not read as speed), and the time left at that rate."""

    def __init__(self) -> None:
        self.first: Step | None = None
        self.rate: float | None = None
        self.eta: timedelta | None = None

    def update(self, step: Step) -> None:
        if self.first is None or step.done < self.first.done:
            self.first = step
            return
        seconds = (step.at - self.first.at).total_seconds()
        if seconds > 0 and step.done > self.first.done:
            self.rate = (step.done - self.first.done) / seconds
            self.eta = timedelta(seconds=round(max(step.total - step.done, 0) / self.rate))


class RateColumn(ProgressColumn):
    """The job's rate, from its pace."""

    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        return Text(f"{rate:,.1f}/s" if rate is not None else "-/s", style="progress.data.speed")


class EtaColumn(ProgressColumn):
    """The time left at the job's rate (0:00:00 once done)."""

    def render(self, task: Task) -> Text:
        eta = timedelta(0) if task.finished else task.fields.get("eta")
        return Text(f"ETA {eta}" if eta is not None else "ETA -:--:--", style="progress.remaining")


def follow(client: Client, job: dict[str, Any], label: str, *, show_bar: bool) -> dict[str, Any]:
    """Wait for `job` to finish, with a live bar on stderr when `show_bar`; the job's final record."""
    if show_bar:
        bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TaskProgressColumn(), RateColumn(), EtaColumn(), console=Console(stderr=True))
        pace = Pace()
        with bar:
            task = bar.add_task(label, total=job["progressTotal"] or None, completed=job["progressDone"],
                                rate=None, eta=None)
            for step in steps(client, job["id"]):
                if step.finished:
                    break
                pace.update(step)
                bar.update(task, total=step.total or None, completed=step.done, rate=pace.rate, eta=pace.eta)
            final = client.query(JOB, {"id": job["id"]})["job"]
            if final is not None:
                total = final["progressTotal"]
                bar.update(task, total=total or 1, completed=final["progressDone"] if total else 1,
                           rate=pace.rate, eta=pace.eta)
    else:
        for _ in steps(client, job["id"]):
            pass
        final = client.query(JOB, {"id": job["id"]})["job"]
    return final if final is not None else job
