"""The reliability suite's report: every test writes its figures to `tests/reliability/results.json` under its
own section, with the counts of lost, duplicated and leaked items always present (zeros written, never left out).

`docs/RELIABILITY.md` summarizes the latest run; `make test-reliability` produces it.
"""

import fcntl
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")

# The nine sections, one per fault or load the suite injects (issue order).
SECTIONS = (
    "worker_crash",
    "commit_send_gaps",
    "outages",
    "ledger_property",
    "preview_equals_processing",
    "gateway_faults",
    "across_hosts",
    "load",
    "abuse_under_load",
)


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=RESULTS.parent, check=False).stdout.strip()
    except OSError:
        return ""


def record(section: str, figures: dict[str, Any], *, lost: int, duplicated: int, leaked: int,
           held: list[str] | None = None) -> None:
    """Merge one test's figures into results.json (under a file lock: tests of a run may write concurrently).

    `lost`, `duplicated`, `leaked` are required so a report can never be silent about them; `held` lists the
    invariants the test checked, in words, for docs/RELIABILITY.md."""
    assert section in SECTIONS, f"unknown reliability section {section!r}"
    entry = {"lost": lost, "duplicated": duplicated, "leaked": leaked, **figures,
             "held": held or [], "at": datetime.now(UTC).isoformat(timespec="seconds")}
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        data.setdefault("sections", {})[section] = entry
        data["machine"] = _machine()
        data["commit"] = _commit()
        data["command"] = "make test-reliability"
        RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
