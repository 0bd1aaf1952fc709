"""The real `billrun batch …` command, run as a subprocess against a live server, as an operator or a script
runs it."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from tests.support.worker import ROOT

BAR_FRAME = r"{label} .*?(\d+)/(\d+) 100% ([\d,]+\.\d)/s ETA 0:00:00"  # the bar's last frame: done, with a rate


@dataclass
class Run:
    """What one invocation printed and its exit code."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def batch(port: int | None, token: str | None, *args: str, timeout: float = 120) -> Run:
    """`billrun batch <args>` against the server on `port` (None: a URL nobody listens on is given by the caller
    in `args`), with the token in BILLRUN_TOKEN (None: no token at all)."""
    env = {k: v for k, v in os.environ.items() if k not in ("BILLRUN_TOKEN", "BILLRUN_URL")}
    env["COLUMNS"] = "200"  # one bar frame per line, whatever the terminal of the test run
    if token is not None:
        env["BILLRUN_TOKEN"] = token
    if port is not None:
        env["BILLRUN_URL"] = f"http://127.0.0.1:{port}/graphql"
    done = subprocess.run([sys.executable, "-m", "billrun", "batch", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr)
