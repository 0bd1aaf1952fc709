"""Fault points: named places where a crash test (or a reliability run) may end the process abruptly.

`checkpoint(name)` does nothing unless the setting `BILLRUN_FAULTS` (comma-separated names) lists `name`. Then
the first process to reach it leaves a marker file in `BILLRUN_FAULTS_DIR` and exits at once with code 137, as
if killed by SIGKILL: no rollback handler, no acknowledgement to the broker, no flushed buffers. The marker
makes each fault fire once across processes, so the worker started after the crash runs through.

A name may also carry an ordinal, `name#k`: the process reaching that point for the k-th time (counted across
every process of the run, in a counter file beside the markers) exits there; so one point can end several
workers in turn (`name#2,name#5`), as seeded crash runs pick them. Its marker is the armed entry itself.

The job protocol (`domain.jobs`) names its steps `<kind>.<step>`, e.g. `post.chunk.before_commit`; steps that
talk to the outside world have their own points between the call and recording its answer: `send.mailed`
(the e-mail left), `auto_pay.charged` and `credit_note.refunded` (the gateway answered), `webhook.posted` and
`webhook.redelivery.posted` (the receiver answered an event's delivery, an admin's redelivery).
"""

import fcntl
import os
from functools import lru_cache
from pathlib import Path

from billrun.settings import get_settings

KILLED = 137  # what a shell reports for a process ended by SIGKILL


@lru_cache
def _armed(spec: str) -> frozenset[str]:
    return frozenset(name.strip() for name in spec.split(",") if name.strip())


def armed() -> frozenset[str]:
    """The checkpoint names this process is configured to die at."""
    return _armed(get_settings().faults)


@lru_cache
def _counted(spec: str) -> frozenset[str]:
    """The names armed with an ordinal (`name#k`): their reaches are counted."""
    return frozenset(entry.split("#", 1)[0] for entry in _armed(spec) if "#" in entry)


def checkpoint(name: str) -> None:
    """End the process here if `name` is armed and has not fired yet (anywhere), or if `name#k` is armed and
    this is the k-th time any process reaches `name`."""
    spec = get_settings().faults
    plain, counted = name in _armed(spec), name in _counted(spec)
    if not plain and not counted:
        return
    directory = get_settings().faults_dir
    directory.mkdir(parents=True, exist_ok=True)
    if counted and (ordinal := f"{name}#{_reach(directory, name)}") in _armed(spec):
        _die(directory, ordinal)
    if plain:
        _die(directory, name)


def _reach(directory: Path, name: str) -> int:
    """Count one more reach of `name` across processes (a counter file under an exclusive lock)."""
    with open(directory / f"{name}.reaches", "a+") as counter:
        fcntl.flock(counter, fcntl.LOCK_EX)
        counter.seek(0)
        reaches = int(counter.read().strip() or 0) + 1
        counter.seek(0)
        counter.truncate()
        counter.write(str(reaches))
        counter.flush()
    return reaches


def _die(directory: Path, marker: str) -> None:
    try:
        # O_EXCL: of several processes reaching the point, exactly one creates the marker, and dies.
        os.close(os.open(directory / marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.write(2, f"billrun fault: checkpoint {marker} reached, the process exits now (pid {os.getpid()})\n".encode())
    os._exit(KILLED)


def fired(name: str) -> bool:
    """Whether checkpoint `name` (or `name#k`) has ended a process already (its marker exists)."""
    return (get_settings().faults_dir / name).exists()
