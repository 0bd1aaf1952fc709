"""The `billrun` command: serve, worker, migrate, demo, token create, batch … (billrun/cli_batch.py)."""

import asyncio
import os
import shutil
import tempfile
from collections.abc import Coroutine
from typing import Annotated, Any

import typer

from billrun.cli_batch import app as batch_app
from billrun.graphiql import demo_token_path
from billrun.settings import Settings, get_settings

app = typer.Typer(help="billrun: the billing-run engine (GraphQL API + Dramatiq workers).", no_args_is_help=True,
                  pretty_exceptions_enable=False)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(batch_app, name="batch")


def _logging() -> None:
    """One line per record, JSON or text (BILLRUN_LOG_FORMAT), on stderr."""
    from billrun import logs

    logs.configure(get_settings())


@app.command()
def migrate() -> None:
    """Apply every pending database migration (safe to run again)."""
    from billrun import db

    _logging()
    asyncio.run(db.migrate())
    typer.echo(f"Migrated {_safe_url(get_settings().database_url)}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default BILLRUN_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default BILLRUN_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes (production only).")] = 1,
) -> None:
    """Run the GraphQL API. Without REDIS_URL (the embedded default) workers run inside this process."""
    import uvicorn

    settings = get_settings()
    _logging()
    if settings.embedded and workers != 1:
        raise typer.BadParameter("The embedded default runs one process; set REDIS_URL to scale out.")
    if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _empty_metrics_directory(directory)  # this server's alone; each start begins from zero
    uvicorn.run("billrun.asgi:app", **uvicorn_options(settings, host=host, port=port, workers=workers))


def uvicorn_options(settings: Settings, *, host: str | None = None, port: int | None = None,
                    workers: int = 1) -> dict[str, Any]:
    """How `serve` runs uvicorn. Its WebSocket frame limit is BILLRUN_MAX_WS_MESSAGE_BYTES, so a larger
    message is refused (1009) before it is even buffered; the app enforces the same limit again. Its log
    set-up is billrun's (each uvicorn worker process applies it), so its lines share the format."""
    from billrun import logs

    return {"host": host or settings.host, "port": port or settings.port, "workers": workers,
            "log_level": settings.log_level.lower(), "log_config": logs.uvicorn_log_config(settings),
            "proxy_headers": False,  # the app applies them, from BILLRUN_TRUSTED_PROXIES only
            "ws": "billrun.ws_protocol:FrameWritingWebSocketProtocol",  # uvicorn's, writing events' frames whole
            "ws_max_size": settings.max_ws_message_bytes,
            "ws_per_message_deflate": settings.ws_per_message_deflate}


@app.command()
def worker(
    processes: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option(help="Threads per process.")] = 4,
) -> None:
    """Run Dramatiq worker processes on the broker (REDIS_URL, or BILLRUN_BROKER_URL for RabbitMQ), the
    sweeper once per BILLRUN_SWEEP_INTERVAL_SECONDS across all hosts, and this host's metrics endpoint
    (BILLRUN_WORKER_METRICS_HOST:PORT)."""
    settings = get_settings()
    if settings.embedded:
        typer.echo("REDIS_URL is not set: on the embedded default, `billrun serve` runs the workers.", err=True)
        raise typer.Exit(2)
    _logging()
    # Every worker process writes its series into one directory that the metrics process reads: the operator's
    # PROMETHEUS_MULTIPROC_DIR (emptied now), or a private one. Set before any worker process starts.
    own_directory = None
    if not (directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR")):
        own_directory = directory = tempfile.mkdtemp(prefix="billrun-worker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    _empty_metrics_directory(directory)
    # Dramatiq's own command, in this process: its logging is left to billrun's (each worker process applies
    # the same format to dramatiq's log pipe when it boots).
    argv = ["workers.actors", "--processes", str(processes), "--threads", str(threads), "--skip-logging"]
    if settings.worker_metrics_port:
        argv += ["--fork-function", "billrun.worker_metrics:serve"]
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    try:
        code = dramatiq_main(make_argument_parser().parse_args(argv))
    finally:
        if own_directory:
            shutil.rmtree(own_directory, ignore_errors=True)
    raise typer.Exit(code or 0)


@app.command()
def demo() -> None:
    """Load the demo data (once) and print a fresh bearer token holding every permission."""
    from billrun import db
    from billrun.demo import load_demo

    _logging()

    async def run() -> str:
        async with db.database():
            return await load_demo()

    token = asyncio.run(run())
    settings = get_settings()
    token_file = demo_token_path(settings.database_url) if settings.embedded else None
    if token_file is not None:  # GraphiQL on the embedded default opens with it (billrun/graphiql.py)
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.touch(mode=0o600)
        token_file.write_text(token + "\n")
    typer.echo(f"\nDemo token (every permission):\n\n    {token}\n")
    typer.echo(f"GraphiQL: http://{get_settings().host}:{get_settings().port}/graphql  "
               f'(Headers tab: {{"Authorization": "Bearer {token}"}})\n')


@token_app.command("create")
def token_create(
    email: Annotated[str, typer.Option(help="The user the token acts as (created when missing).")],
    permission: Annotated[list[str], typer.Option("--permission", "-p",
                                                  help="A permission; repeat for several.")],
    name: Annotated[str, typer.Option(help="What uses the token.")] = "cli",
    user_name: Annotated[str | None, typer.Option(help="Name for a new user.")] = None,
) -> None:
    """Create an API token (creating the user if needed) and print it once."""
    from billrun import db
    from domain import auth
    from domain.errors import DomainError

    async def run() -> str:
        async with db.database():
            import models

            user = await models.User.get_or_none(email=email.strip().lower())
            if user is None:
                user = await auth.create_user(None, email=email, name=user_name or email, permissions=permission)
            token, _ = await auth.create_api_token(None, user_id=user.id, name=name, permissions=permission)
            return token

    try:
        typer.echo(asyncio.run(run()))
    except (DomainError, ValueError) as error:
        typer.echo(f"Refused: {error}", err=True)
        raise typer.Exit(1) from None


@app.command("export-schema")
def export_schema(
    path: Annotated[str, typer.Argument(help="Where to write the SDL.")] = "schema.graphql",
) -> None:
    """Write the GraphQL schema (SDL) to a file; a test fails when the committed one drifts."""
    from schema import schema

    with open(path, "w", encoding="utf-8") as out:
        out.write(schema.as_str() + "\n")
    typer.echo(f"Wrote {path}")


bench_app = typer.Typer(help="Benchmarks (need PostgreSQL and Redis; see docs/PERFORMANCE.md).",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("process")
def bench_process(
    contracts: Annotated[int, typer.Option(help="Contracts to bill (one monthly period each).")] = 100_000,
    workers: Annotated[int, typer.Option(help="Worker processes of the second run (the first has 1).")] = 2,
    compare_with: Annotated[int | None, typer.Option(help="Also run this smaller N, to compare peak RSS.")] = None,
    output: Annotated[str, typer.Option(help="Where to write the JSON result.")] = "bench/results/process.json",
) -> None:
    """Process one batch of N contracts end to end with 1 and with W workers, against PostgreSQL's COPY floor.
    DATABASE_URL must name a scratch database ending in `_bench` (it is recreated)."""
    from pathlib import Path

    from billrun.bench import bench_process as run
    from billrun.bench import write_result

    _logging()
    result = {}
    if compare_with:
        small = asyncio.run(run(compare_with, workers))
        result["peak_rss_mb_small"] = small["peak_rss_mb"]
        result["contracts_small"] = compare_with
        typer.echo(f"N={compare_with}: {small}")
    result = {**asyncio.run(run(contracts, workers)), **result}
    write_result(result, Path(output))
    width = max(len(k) for k in result)
    typer.echo("\n".join(f"{k:<{width}}  {v}" for k, v in result.items()))
    typer.echo(f"Wrote {output}")


@bench_app.command("dispositions")
def bench_dispositions(
    billings: Annotated[int, typer.Option(help="Billings to approve in one mass update.")] = 100_000,
    workers: Annotated[int, typer.Option(help="Worker processes that process the batch first.")] = 2,
    output: Annotated[str, typer.Option(help="Where to write the JSON result.")] = "bench/results/dispositions.json",
) -> None:
    """Mass-update N billings (with audit rows) against the floor of one UPDATE plus one INSERT … SELECT.
    DATABASE_URL must name a scratch database ending in `_bench` (it is recreated)."""
    from billrun.bench import bench_dispositions

    _run_bench(bench_dispositions(billings, workers), output)


@bench_app.command("posting")
def bench_posting(
    billings: Annotated[int, typer.Option(help="Approved billings to post in one batch.")] = 100_000,
    workers: Annotated[int, typer.Option(help="Worker processes that process and post the batch.")] = 2,
    output: Annotated[str, typer.Option(help="Where to write the JSON result.")] = "bench/results/posting.json",
) -> None:
    """Post N approved billings (invoices + journal entries and lines) against the COPY floor of those rows.
    DATABASE_URL must name a scratch database ending in `_bench` (it is recreated)."""
    from billrun.bench import bench_posting

    _run_bench(bench_posting(billings, workers), output)


@bench_app.command("credit-notes")
def bench_credit_notes(
    lines: Annotated[int, typer.Option(help="Lines of the invoice credited.")] = 100,
    notes: Annotated[int, typer.Option(help="Credit notes created and issued (each crediting every line).")] = 50,
    output: Annotated[str, typer.Option(help="Where to write the JSON result.")] = "bench/results/credit_notes.json",
) -> None:
    """A credit note of a 100-line invoice through the GraphQL API: createCreditNote + issueCreditNote, journaled
    and numbered (median, p95). DATABASE_URL must name a scratch database ending in `_bench` (it is recreated)."""
    from billrun.bench import bench_credit_notes as run

    _run_bench(run(lines, notes), output)


@bench_app.command("billing-day")
def bench_billing_day(
    contracts: Annotated[int, typer.Option(help="Contracts to process, approve and post.")] = 100_000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    output: Annotated[str, typer.Option(help="Where to write the JSON result.")] = "bench/results/billing_day.json",
) -> None:
    """A billing day: process N contracts, approve every billing at once, post them; each step against its floor.
    DATABASE_URL must name a scratch database ending in `_bench` (it is recreated)."""
    from billrun.bench import bench_billing_day

    _logging()
    _run_bench(bench_billing_day(contracts, workers), output)


@bench_app.command("live")
def bench_live(
    contracts: Annotated[int, typer.Option(help="Contracts of the batches processed while followed.")] = 2000,
    subscribers: Annotated[int, typer.Option(help="Concurrent subscribers of one API process (fan-out).")] = 1000,
    missed: Annotated[int, typer.Option(help="Events a resuming subscriber missed.")] = 10_000,
    chunk_size: Annotated[int, typer.Option(help="Contracts per processing message (a progress event each) while "
                                            "one subscriber follows.")] = 20,
    fan_out_chunk_size: Annotated[int, typer.Option(help="The same while the many follow.")] = 200,
    client_processes: Annotated[int, typer.Option(help="Client processes the fan-out's subscribers are spread "
                                                  "over.")] = 2,
    output: Annotated[str, typer.Option(help="Where to write the JSON result.")] = "bench/results/live.json",
    only: Annotated[str | None, typer.Option(help="Only this measure: latency, fan-out or resume (default: "
                                             "all).")] = None,
) -> None:
    """Events across processes: a worker's event to a subscriber of an API process (p50/p99), S subscribers of
    one process, a subscriber resuming M missed events. DATABASE_URL must name a scratch database ending in
    `_bench` (it is recreated)."""
    from billrun.bench_live import bench_live as run

    _run_bench(run(contracts, subscribers, missed, chunk_size, fan_out_chunk_size, client_processes, only), output)


@bench_app.command("graph")
def bench_graph(
    contracts: Annotated[int, typer.Option(help="Contracts of the batch whose billings the grid pages.")] = 300,
    requests: Annotated[int, typer.Option(help="Requests per measure (1 client, 10 clients).")] = 200,
    output: Annotated[str, typer.Option(help="Where to write the JSON result.")] = "bench/results/graph.json",
) -> None:
    """The billings grid (bench/grid.graphql, 100 billings) over HTTP against one `billrun serve` process with 1
    and 10 clients, against bare graphql-core over the same rows and a hand-written endpoint; SQL statements per
    request. DATABASE_URL must name a scratch database ending in `_bench` (it is recreated)."""
    from billrun.bench_graph import bench_graph as run

    _run_bench(run(contracts, requests), output)


def _run_bench(benchmark: Coroutine[Any, Any, dict], output: str) -> None:
    """Run one benchmark coroutine, write its JSON result and print it."""
    from pathlib import Path

    from billrun.bench import write_result

    _logging()
    result = asyncio.run(benchmark)
    write_result(result, Path(output))
    typer.echo("\n".join(f"{k:<16}{v}" for k, v in result.items()))
    typer.echo(f"Wrote {output}")


def _empty_metrics_directory(path: str) -> None:
    """prometheus-client's multiprocess rule: the directory starts empty. Done before anything imports
    billrun.metrics, whose series open their files there as soon as they exist."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    app()
