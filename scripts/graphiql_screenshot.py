"""Prove GraphiQL works offline: run a query in headless Chromium and save a screenshot.

Starts billrun (embedded default, SQLite in a temp dir: migrate, demo, serve), opens
GraphiQL in headless Chromium with every non-local host unresolvable and a dead proxy,
clicks "execute" on ``{ viewer { id permissions } }`` with the demo token and drives it
all over the Chrome DevTools Protocol. Fails (exit 1) if the result never shows up, a
request left 127.0.0.1, or a local request failed. Usage: graphiql_screenshot.py [OUT.png]
"""

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
QUERY = "{ viewer { id permissions } }"
EXPECT = "BILLING_ACCESS"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    # Outside networking blocked: no DNS except 127.0.0.1, and a dead proxy for anything that slips through.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1", "--window-size=1400,900",
]  # fmt: skip
LOCAL = re.compile(r"^(?:data:|blob:|about:|(?:https?|wss?)://127\.0\.0\.1[:/])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class CDP:
    """Minimal DevTools client: numbered commands, events collected in a list."""

    def __init__(self, ws):
        self.ws, self.ids, self.pending, self.events = ws, itertools.count(1), {}, []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                self.pending.pop(msg["id"]).set_result(msg)
            else:
                self.events.append(msg)

    async def send(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        self.pending[msg_id] = fut = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, 30)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]

    async def js(self, expression: str):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, seconds: float = 30):
        deadline = time.monotonic() + seconds
        while not (value := await self.js(expression)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.25)
        return value


async def drive(ws_url: str, url: str) -> tuple[bytes, list[str]]:
    """Run the query in GraphiQL; return the PNG screenshot and the problems found."""
    async with connect(ws_url, max_size=None) as ws:
        cdp = CDP(ws)
        for domain in ("Network", "Runtime", "Log", "Page"):
            await cdp.send(f"{domain}.enable")
        await cdp.send("Page.navigate", url=url)
        await cdp.wait_for("!!document.querySelector('.graphiql-execute-button')", "the execute button")
        await cdp.js("document.querySelector('.graphiql-execute-button').click()")
        text = await cdp.wait_for(
            f"(t => t.includes({EXPECT!r}) && t)(document.querySelector('.graphiql-response')?.innerText || '')",
            "the viewer result",
        )
        await asyncio.sleep(0.5)  # let the result pane finish painting
        shot = await cdp.send("Page.captureScreenshot", format="png")
        cdp.reader.cancel()

    requests = [e["params"]["request"]["url"] for e in cdp.events if e["method"] == "Network.requestWillBeSent"]
    problems = [f"non-local request: {u}" for u in requests if not LOCAL.match(u)]
    problems += [
        f"request failed: {e['params'].get('errorText')} ({e['params']['requestId']})"
        for e in cdp.events
        if e["method"] == "Network.loadingFailed"
    ]
    errors = [
        json.dumps(e["params"])[:200]
        for e in cdp.events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    local = sum(bool(LOCAL.match(u)) for u in requests)
    print(f"{len(requests)} requests, {local} to 127.0.0.1 (or data:/blob:); console errors: {len(errors)}")
    for line in errors:
        print("  console:", line)
    print("result pane:", " ".join(text.split())[:200])
    return base64.b64decode(shot["data"]), problems


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "graphiql.png").resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="graphiql-shot-") as tmp:
        port, debug_port = free_port(), free_port()
        env = {**os.environ, "DATABASE_URL": f"sqlite://{tmp}/billrun.sqlite3", "BILLRUN_PORT": str(port)}
        env.pop("REDIS_URL", None)
        billrun = str(ROOT / ".venv" / "bin" / "billrun")
        try:
            subprocess.run([billrun, "migrate"], env=env, cwd=ROOT, check=True, capture_output=True)
            demo = subprocess.run([billrun, "demo"], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
            token = re.search(r"brn_[\w-]+", demo.stdout).group(0)
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
            procs.append(subprocess.Popen([billrun, "serve"], env=env, cwd=ROOT, **quiet))
            wait_http(f"http://127.0.0.1:{port}/graphql")
            chrome = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp}/chrome", f"--remote-debugging-port={debug_port}"]
            procs.append(subprocess.Popen(["chromium", *chrome, "about:blank"], **quiet))
            wait_http(f"http://127.0.0.1:{debug_port}/json/version")
            targets = httpx.get(f"http://127.0.0.1:{debug_port}/json", timeout=5).json()
            ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            headers = json.dumps({"Authorization": f"Bearer {token}"})
            query = urllib.parse.urlencode({"q": QUERY, "headers": headers}, quote_via=urllib.parse.quote)
            png, problems = asyncio.run(drive(ws_url, f"http://127.0.0.1:{port}/graphql?{query}"))
            out.write_bytes(png)
        except Exception as exc:
            print(f"FAILED: {exc!r}", file=sys.stderr)
            return 1
        finally:
            for proc in reversed(procs):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    for problem in problems:
        print("FAILED:", problem, file=sys.stderr)
    if problems:
        return 1
    print(f"all requests stayed on 127.0.0.1; screenshot written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
