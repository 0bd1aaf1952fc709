"""Fixtures every suite leans on: a clean database per test, the ASGI app, API clients, users and tokens."""

from tests.support import environment

environment.configure()  # before billrun reads its settings

import os  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402
from tortoise import Tortoise, connections  # noqa: E402

import models  # noqa: E402
from billrun import db  # noqa: E402
from billrun.app import create_app  # noqa: E402
from domain import auth, ledger  # noqa: E402
from models import constraints  # noqa: E402
from models.enums import Permission  # noqa: E402
from tests.support import mailbox, rabbitmq  # noqa: E402
from tests.support.api import Api  # noqa: E402
from tests.support.worker import WorkerProcess, others_paused  # noqa: E402

ALL = [p.value for p in Permission]

# Each suite runs in its own pytest process (never two dialects in one process, STACK.md).
collect_ignore = ["embedded"] if environment.MODE != "embedded" else []
# The reliability suite runs on its own (`make test-reliability`, BILLRUN_TEST_SUITE=reliability).
if os.environ.get("BILLRUN_TEST_SUITE") != "reliability":
    collect_ignore.append("reliability")


@pytest.fixture
async def pg() -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the test database, outside the ORM (to hold row locks like another client)."""
    connection = await asyncpg.connect(f"{environment.PG_ADMIN_URL.rsplit('/', 1)[0]}/{environment.TEST_DB_NAME}")
    yield connection
    await connection.close()


async def _recreate_postgres_database() -> None:
    admin = await asyncpg.connect(environment.PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{environment.TEST_DB_NAME}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{environment.TEST_DB_NAME}"')
    finally:
        await admin.close()


async def _drop_postgres_database() -> None:
    admin = await asyncpg.connect(environment.PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{environment.TEST_DB_NAME}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session", autouse=True)
def rabbitmq_vhost() -> Iterator[None]:
    """On the RabbitMQ run, the session's own virtual host, there before any worker or message."""
    if environment.BROKER != "rabbitmq" or environment.MODE == "embedded":
        yield
        return
    rabbitmq.recreate_vhost(environment.RABBITMQ_VHOST)
    yield
    rabbitmq.drop_vhost(environment.RABBITMQ_VHOST)


@pytest.fixture(scope="session", autouse=True)
async def database(rabbitmq_vhost: None) -> AsyncIterator[None]:
    """A fresh database, migrated, for the whole session; the ORM open on the session's loop."""
    if environment.MODE == "embedded":
        environment.SQLITE_PATH.unlink(missing_ok=True)
    else:
        await _recreate_postgres_database()
    await db.migrate()
    await db.init()
    yield
    await connections.close_all(discard=False)
    if environment.MODE == "embedded":
        environment.SQLITE_PATH.unlink(missing_ok=True)
    else:
        await _drop_postgres_database()


def _tables() -> list[str]:
    return [model._meta.db_table for model in Tortoise.apps[db.APP_LABEL].values()]


@pytest.fixture(autouse=True)
async def clean_tables(database: None) -> None:
    """Each test starts from empty tables (the migrations record stays)."""
    await empty_tables()


async def empty_tables() -> None:
    """Every table emptied (the migrations record stays): what each test starts from, and what a module-scoped
    set-up that runs before its tests' own clean-up starts from."""
    conn = connections.get("default")
    if environment.MODE == "embedded":
        # Append-only tables refuse deletes by trigger: lift the triggers for the clean-up, then put them back.
        lift = "".join(f"DROP TRIGGER IF EXISTS {t}_no_{e};"
                       for t in constraints.APPEND_ONLY for e in ("update", "delete"))
        restore = "".join(f"{sql};" for t in constraints.APPEND_ONLY for sql in constraints.append_only_sqlite(t))
        deletes = "".join(f'DELETE FROM "{table}";' for table in _tables())
        await conn.execute_script(f"PRAGMA foreign_keys = OFF;{lift}{deletes}DELETE FROM sqlite_sequence;{restore}"
                                  "PRAGMA foreign_keys = ON;")
    else:
        await conn.execute_script(f"TRUNCATE {', '.join(_tables())} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session", autouse=True)
def no_worker_left_behind() -> Iterator[None]:
    """Whatever worker a test started and did not stop ends with the session."""
    yield
    WorkerProcess.stop_all()


@pytest.fixture(scope="session")
def worker() -> Iterator[WorkerProcess]:
    """A real Dramatiq worker process on the real Redis broker, for the whole session (PostgreSQL suite)."""
    assert environment.MODE != "embedded", "the embedded suite runs its workers in process"
    process = WorkerProcess(processes=1, threads=4).start()
    yield process
    process.stop()
    if os.environ.get("BILLRUN_TEST_WORKER_LOG"):  # debugging aid: keep what the worker printed
        Path(os.environ["BILLRUN_TEST_WORKER_LOG"]).write_text("".join(process.log))


@pytest.fixture
def alone() -> Iterator[None]:
    """The workers a test starts are the only ones on the queues: the session's worker (if started) pauses
    meanwhile, and whatever a killed worker left queued is dropped afterwards."""
    from workers.broker import broker

    with others_paused():
        yield
        broker.flush_all()


@pytest.fixture(scope="session")
def _smtp_session() -> Iterator[mailbox.Mailbox]:
    controller, box = mailbox.start(environment.SMTP_PORT)
    yield box
    controller.stop()


@pytest.fixture
def smtp_server(_smtp_session: mailbox.Mailbox) -> mailbox.Mailbox:
    """The local SMTP server the worker e-mails invoices to (BILLRUN_SMTP_URL), emptied for each test."""
    _smtp_session.clear()
    return _smtp_session


@pytest.fixture(autouse=True)
async def ledger_stays_balanced(clean_tables: None) -> AsyncIterator[None]:
    """A session-wide invariant: after every test, every journal entry balances and so does the trial balance."""
    yield
    assert await ledger.unbalanced_entries() == [], "a journal entry does not balance"
    totals = await ledger.balances()
    assert sum((b.debit for b in totals.values()), Decimal(0)) == sum((b.credit for b in totals.values()), Decimal(0))


@pytest.fixture(scope="session")
def app():
    """The ASGI app, its ORM already opened by `database` (ASGITransport runs no lifespan)."""
    return create_app(run_workers=False)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> Api:
    return Api(client)


async def make_token(email: str, permissions: list[str], name: str | None = None) -> tuple[models.User, str]:
    """A user with these permissions and an API token for it."""
    user = await auth.create_user(None, email=email, name=name or email.split("@")[0], permissions=permissions,
                                  password="correct horse battery")
    token, _ = await auth.create_api_token(None, user_id=user.id, name="test")
    return user, token


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Api:
    """A client holding every permission."""
    _, token = await make_token("admin@example.com", ALL, "Ada Admin")
    return Api(client, token)


@pytest.fixture
async def clerk(client: httpx.AsyncClient) -> Api:
    """A billing clerk: BILLING_ACCESS only."""
    _, token = await make_token("clerk@example.com", [Permission.BILLING_ACCESS.value], "Cleo Clerk")
    return Api(client, token)
