"""Fault points: named places where a crash test (or a reliability run) may end the process abruptly.

`checkpoint(name)` does nothing unless the setting `BILLRUN_FAULTS` (comma-separated names) lists `name`. Then
the first process to reach it leaves a marker file in `BILLRUN_FAULTS_DIR` and exits at once with code 137, as
if killed by SIGKILL: no rollback handler, no acknowledgement to the broker, no flushed buffers. The marker
makes each fault fire once across processes, so the worker started after the crash runs through.

The job protocol (`domain.jobs`) names its steps `<kind>.<step>`, e.g. `post.chunk.before_commit`.
"""

import os
from functools import lru_cache

from billrun.settings import get_settings

KILLED = 137  # what a shell reports for a process ended by SIGKILL


@lru_cache
def _armed(spec: str) -> frozenset[str]:
    return frozenset(name.strip() for name in spec.split(",") if name.strip())


def armed() -> frozenset[str]:
    """The checkpoint names this process is configured to die at."""
    return _armed(get_settings().faults)


def checkpoint(name: str) -> None:
    """End the process here if `name` is armed and has not fired yet (anywhere)."""
    if name not in armed():
        return
    directory = get_settings().faults_dir
    directory.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several processes reaching the point, exactly one creates the marker, and dies.
        os.close(os.open(directory / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return
    os.write(2, f"billrun fault: checkpoint {name} reached, the process exits now (pid {os.getpid()})\n".encode())
    os._exit(KILLED)


def fired(name: str) -> bool:
    """Whether checkpoint `name` has ended a process already (its marker exists)."""
    return (get_settings().faults_dir / name).exists()
