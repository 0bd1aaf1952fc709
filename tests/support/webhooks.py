"""A real webhook receiver on loopback (http.server in a thread) that verifies every request's signature with the
`standardwebhooks` library, answers the status codes a test scripts, and keeps what it got."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from tests.support import waiting
from tests.support.api import Api


@dataclass
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    verified: dict[str, bool]  # secret -> whether standardwebhooks accepted the request with it

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """Answers `script`'s statuses in order, then `default`; verifies each request with every secret in
    `secrets` (set them after creating the endpoint)."""

    port: int = 0
    secrets: list[str] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    default: int = 204
    requests: list[Received] = field(default_factory=list)
    since: int = 0  # the cursor of the stream when its endpoint was created: it is sent the events after it
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/billrun"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            status = self.script.pop(0) if self.script else self.default
            verified = {}
            for secret in self.secrets:
                try:
                    Webhook(secret).verify(body, headers)
                    verified[secret] = True
                except WebhookVerificationError:
                    verified[secret] = False
            self.requests.append(Received(headers, body, status, verified))
            return status

    def delivered(self) -> list[Received]:
        """The requests answered 2xx, in the order they came."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    async def wait_for(self, count: int, within: float = 30.0) -> list[Received]:
        """Poll (with a deadline) until `count` requests were answered 2xx; returns them."""
        async def enough() -> list[Received] | None:
            got = self.delivered()
            return got if len(got) >= count else None

        found: list[Received] = await waiting.until(enough, f"{count} deliveries answered 2xx at {self.url}", within)
        return found


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def receiver(**options: object) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a free port) for the block."""
    hook = Receiver(**options)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


ENDPOINT = "id url description enabled disabledReason eventTypes cursor retryAt previousSecretExpiresAt"
CREATE = """mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  secret webhookEndpoint { """ + ENDPOINT + """ } errors { code field message } } }"""
DELIVERIES = """query($id: ID!) { webhookDeliveries(endpointId: $id, first: 100) { totalCount nodes {
  attempt redelivery state statusCode durationMs error at nextRetryAt eventType eventCursor event { id } } } }"""


async def create_endpoint(admin: Api, hook: Receiver, **input: object) -> tuple[str, str]:
    """Register `hook` as an endpoint; returns its id and secret (and has the receiver verify with it)."""
    payload = await admin.mutate("createWebhookEndpoint", CREATE, {"input": {"url": hook.url, **input}})
    hook.secrets.append(payload["secret"])
    hook.since = int(payload["webhookEndpoint"]["cursor"])
    return payload["webhookEndpoint"]["id"], payload["secret"]


async def deliveries(admin: Api, endpoint: str) -> list[dict]:
    """The endpoint's delivery log, oldest attempt first."""
    return list(reversed((await admin.ok(DELIVERIES, {"id": endpoint}))["webhookDeliveries"]["nodes"]))
