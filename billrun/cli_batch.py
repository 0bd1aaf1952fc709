"""`billrun batch …`: billing runs from a terminal or a script, through the GraphQL API like any other client
(`--url`, `--token`), so the same commands drive the embedded default and a remote production deployment.

Each state-changing command sends an idempotency key (a fresh one per invocation, or `--idempotency-key`), so the
client's own retries, or the operator running the command again with the key it printed, never act twice.
`--wait` follows the job's events with a live progress bar, then prints the batch as `show` does; `--json`
prints one JSON document on stdout instead (no bar). Exit codes: `billrun.client.ExitCode`."""

import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from billrun.client import BadRequest, Client, ClientError, ExitCode, Refused, Unauthenticated, Unreachable
from billrun.job_progress import JOB_FIELDS, follow
from billrun.settings import get_settings

app = typer.Typer(help="Billing runs through the API: create, analyze, process, post, export, complete, show.",
                  no_args_is_help=True)

BATCH_FIELDS = f"""id code name status billGroup division currency invoiceDate asOfDate postMode
  createdAt processedAt postedAt exportedAt completedAt
  summary {{ billingCount totalAmount invoiceCount totalAmountDue amountAwaitingPayment amountPaid
    hiddenBillingCount hiddenInvoiceCount billingCounts {{ status count }} }}
  jobs {{ {JOB_FIELDS} }}
  notifications {{ id kind status message createdAt }}
  completion {{ ready blockers {{ kind message subjectId }} }}
  exports {{ id format filename size sha256 downloadUrl createdAt }}"""
SHOW = "query($id: ID!) { billingBatch(id: $id) { " + BATCH_FIELDS + " } }"
BY_CODE = "query($code: String!) { billingBatches(filter: {search: $code}, first: 20) { nodes { id code } } }"
ERRORS = "errors { code field message }"
CREATE = ("mutation($input: CreateBillingBatchInput!) { createBillingBatch(input: $input) { billingBatch { id code }"
          f" {ERRORS} }} }}")
ANALYZE = f"""mutation($input: BillingBatchInput!) {{ analyzeBillingBatch(input: $input) {{
  findings {{ id kind severity message subjectType resolvedAt }}
  preview {{ billingCount amount rejectedCount hiddenBillingCount }} {ERRORS} }} }}"""
JOB_MUTATION = "mutation($input: %s!) { %s(input: $input) { job { " + JOB_FIELDS + " } " + ERRORS + " } }"
EXPORT = f"""mutation($input: ExportBillingBatchInput!) {{ exportBillingBatch(input: $input) {{
  export {{ id format filename contentType size sha256 downloadUrl createdAt }} {ERRORS} }} }}"""
COMPLETE = ("mutation($input: CompleteBillingBatchInput!) { completeBillingBatch(input: $input) { billingBatch { id }"
            f" {ERRORS} }} }}")
CODE = re.compile(r"^BB-\d+$", re.IGNORECASE)


class PostMode(StrEnum):
    SEND = "SEND"
    EXPORT = "EXPORT"


class ExportFormat(StrEnum):
    INVOICES_CSV = "INVOICES_CSV"
    JOURNAL_CSV = "JOURNAL_CSV"


def _default_url() -> str:
    settings = get_settings()
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}/graphql"


Batch = Annotated[str, typer.Argument(metavar="BATCH", help="The batch: its global id, or its code (BB-000042).")]
Url = Annotated[str | None, typer.Option(envvar="BILLRUN_URL", show_default=False,
                                         help="The API's GraphQL URL (default: http://BILLRUN_HOST:BILLRUN_PORT/graphql).")]
Token = Annotated[str | None, typer.Option(envvar="BILLRUN_TOKEN", show_default=False,
                                           help="Bearer token (default: BILLRUN_TOKEN).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (no progress bar).")]
Wait = Annotated[bool, typer.Option("--wait", help="Follow the job with a live progress bar, then show the batch.")]
Key = Annotated[str | None, typer.Option(help="Idempotency key to send (default: a fresh UUID per invocation); "
                                              "run a command again with the key it printed to retry it safely.")]


class Session:
    """One invocation: the client, the output mode and the idempotency key of its state change."""

    def __init__(self, client: Client, as_json: bool, key: str | None) -> None:
        self.client, self.as_json = client, as_json
        self.key = key or str(uuid.uuid4())
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    def mutate(self, field: str, document: str, input_: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.client.mutate(field, document, {"input": input_}, self.key)
        except Unreachable:
            self.err.print(f"Not known whether it ran: run the command again with --idempotency-key {self.key} "
                           "(the server answers the first result instead of acting twice).")
            raise

    def batch_id(self, ref: str) -> str:
        """The global id of the batch `ref` names (a code is looked up; hidden reads as absent)."""
        ref = ref.strip()
        if not CODE.match(ref):
            return ref
        nodes = self.client.query(BY_CODE, {"code": ref})["billingBatches"]["nodes"]
        for node in nodes:
            if node["code"].upper() == ref.upper():
                return str(node["id"])
        raise Refused("NOT_FOUND", f"No batch {ref}.")

    def batch(self, batch_id: str) -> dict[str, Any]:
        found = self.client.query(SHOW, {"id": batch_id})["billingBatch"]
        if found is None:
            raise Refused("NOT_FOUND", "No such batch (or it is hidden from this token).")
        return dict(found)

    def emit(self, document: dict[str, Any], human: Callable[[], None]) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            human()

    def show(self, batch: dict[str, Any]) -> None:
        print_batch(self.out, batch)

    def run_job(self, ref: str, field: str, input_type: str, label: str, wait: bool,
                **fields: Any) -> None:
        """A mutation that queues a job; with `wait`, follow it, then show the batch (exit 4 if it failed)."""
        batch_id = self.batch_id(ref)
        job = self.mutate(field, JOB_MUTATION % (input_type, field), {"batchId": batch_id, **fields})["job"]
        if not wait:
            self.emit({"job": job}, lambda: self.out.print(
                f"{job['kind']} job {job['id']} {job['status']} (follow it with --wait or `billrun batch show`)"))
            return
        final = follow(self.client, job, label, show_bar=not self.as_json)
        batch = self.batch(batch_id)
        self.emit({"job": final, "billingBatch": batch}, lambda: self.show(batch))
        if final["status"] == "FAILED":
            self.err.print(f"[bold red]{final['kind']} job FAILED:[/] {escape(final.get('error') or '')}")
            raise typer.Exit(ExitCode.JOB_FAILED)


@contextmanager
def session(url: str | None, token: str | None, as_json: bool, key: str | None = None) -> Iterator[Session]:
    """A session whose failures end the command with their exit code, the errors printed (and as JSON with
    --json)."""
    try:
        if not token:
            raise Unauthenticated("UNAUTHENTICATED", "No token: pass --token or set BILLRUN_TOKEN.")
        if key is not None and not 0 < len(key) <= 200:
            raise BadRequest("BAD_REQUEST", "--idempotency-key takes 1 to 200 characters.")
        with Client(url or _default_url(), token) as client:
            yield Session(client, as_json, key)
    except ClientError as error:
        _fail(error, as_json)
    except KeyboardInterrupt:
        Console(stderr=True).print("Interrupted: a queued job goes on in the background (see `billrun batch show`).")
        raise typer.Exit(130) from None


def _fail(error: ClientError, as_json: bool) -> NoReturn:
    if as_json:
        sys.stdout.write(json.dumps({"errors": error.errors}, indent=2) + "\n")
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for found in error.errors:
        field = f" ({found['field']})" if found.get("field") else ""
        err.print(f"[bold red]{escape(str(found['code']))}[/]{escape(field)}: {escape(str(found['message']))}")
    raise typer.Exit(error.exit_code)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="Unique name of the batch.")],
    invoice_date: Annotated[str | None, typer.Option(help="Invoice date, YYYY-MM-DD (default: today), in an open "
                                                          "accounting period.")] = None,
    as_of_date: Annotated[str | None, typer.Option(help="Bill periods starting up to this date (default: the "
                                                        "invoice date).")] = None,
    bill_group: Annotated[str | None, typer.Option(help="Bill group (default: every group).")] = None,
    division: Annotated[str | None, typer.Option(help="Division (default: every division).")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency billed (default: the base currency).")] = None,
    url: Url = None, token: Token = None, as_json: AsJson = False, idempotency_key: Key = None,
) -> None:
    """Create a billing batch (NOT_STARTED) and show it."""
    with session(url, token, as_json, idempotency_key) as s:
        fields = {"name": name, "invoiceDate": invoice_date, "asOfDate": as_of_date, "billGroup": bill_group,
                  "division": division, "currency": currency}
        created = s.mutate("createBillingBatch", CREATE, {k: v for k, v in fields.items() if v is not None})
        batch = s.batch(created["billingBatch"]["id"])
        s.emit({"billingBatch": batch}, lambda: s.show(batch))


@app.command()
def analyze(ref: Batch, url: Url = None, token: Token = None, as_json: AsJson = False,
            idempotency_key: Key = None) -> None:
    """Run the pre-billing analysis: findings, and the preview of what processing would create."""
    with session(url, token, as_json, idempotency_key) as s:
        batch_id = s.batch_id(ref)
        found = s.mutate("analyzeBillingBatch", ANALYZE, {"batchId": batch_id})

        def human() -> None:
            preview = found["preview"] or {}
            s.out.print(f"Preview: {preview.get('billingCount', 0)} billings, {preview.get('amount', '0')} "
                        f"({preview.get('rejectedCount', 0)} would be rejected, "
                        f"{preview.get('hiddenBillingCount', 0)} of hidden accounts)")
            open_findings = [f for f in found["findings"] if f["resolvedAt"] is None]
            s.out.print(f"Findings: {len(found['findings'])} ({len(open_findings)} unresolved)")
            for finding in open_findings:
                s.out.print(f"  {finding['severity']:<8} {finding['kind']:<28} {escape(finding['message'])}")

        s.emit({"findings": found["findings"], "preview": found["preview"]}, human)


@app.command()
def process(ref: Batch, wait: Wait = False, url: Url = None, token: Token = None, as_json: AsJson = False,
            idempotency_key: Key = None) -> None:
    """Process a NOT_STARTED batch in the background (its billings, then analysis again)."""
    with session(url, token, as_json, idempotency_key) as s:
        s.run_job(ref, "processBillingBatch", "BillingBatchInput", "Processing", wait)


@app.command()
def reverse(ref: Batch, wait: Wait = False, url: Url = None, token: Token = None, as_json: AsJson = False,
            idempotency_key: Key = None) -> None:
    """Undo the processing of a PROCESSED or FAILED batch, back to NOT_STARTED."""
    with session(url, token, as_json, idempotency_key) as s:
        s.run_job(ref, "reverseBillingBatch", "BillingBatchInput", "Reversing", wait)


@app.command()
def post(ref: Batch, mode: Annotated[PostMode, typer.Option(help="SEND e-mails the invoices; EXPORT produces the "
                                                                 "accounting export files.")],
         wait: Wait = False, url: Url = None, token: Token = None, as_json: AsJson = False,
         idempotency_key: Key = None) -> None:
    """Post a PROCESSED batch in the background: invoices and journal entries, then sending or export."""
    with session(url, token, as_json, idempotency_key) as s:
        s.run_job(ref, "postBillingBatch", "PostBillingBatchInput", "Posting", wait, mode=mode.value)


@app.command()
def export(ref: Batch, format: Annotated[ExportFormat, typer.Option(help="The file's format.")],
           output: Annotated[str | None, typer.Option("--output", "-o",
                                                      help="Download the file here ('-': stdout).")] = None,
           url: Url = None, token: Token = None, as_json: AsJson = False, idempotency_key: Key = None) -> None:
    """Export a posted batch for an accounting system (the same batch and format give the same bytes)."""
    with session(url, token, as_json, idempotency_key) as s:
        batch_id = s.batch_id(ref)
        produced = s.mutate("exportBillingBatch", EXPORT, {"batchId": batch_id, "format": format.value})["export"]
        if output:
            content = s.client.download(produced["downloadUrl"])
            if output == "-":
                sys.stdout.buffer.write(content)
                sys.stdout.flush()
                return
            with open(output, "wb") as file:
                file.write(content)
        s.emit({"export": produced, "output": output}, lambda: s.out.print(
            f"{produced['format']} {produced['filename']}: {produced['size']} bytes, sha256 {produced['sha256']}"
            + (f", written to {output}" if output else f"\n  GET {produced['downloadUrl']} with the bearer token")))


@app.command()
def complete(ref: Batch, url: Url = None, token: Token = None, as_json: AsJson = False,
             idempotency_key: Key = None) -> None:
    """Complete a POSTED batch (final); refused with one NOT_READY error per blocker while anything is open."""
    with session(url, token, as_json, idempotency_key) as s:
        batch_id = s.batch_id(ref)
        s.mutate("completeBillingBatch", COMPLETE, {"batchId": batch_id})
        batch = s.batch(batch_id)
        s.emit({"billingBatch": batch}, lambda: s.show(batch))


@app.command()
def show(ref: Batch, url: Url = None, token: Token = None, as_json: AsJson = False) -> None:
    """Print the batch: status, counts, totals, jobs, completion blockers and notifications."""
    with session(url, token, as_json) as s:
        batch = s.batch(s.batch_id(ref))
        s.emit({"billingBatch": batch}, lambda: s.show(batch))


def print_batch(out: Console, batch: dict[str, Any]) -> None:
    """`show`'s summary of a batch, for a person."""
    summary = batch["summary"]
    out.print(f"[bold]{batch['code']}[/]  {escape(batch['name'])}  [bold]{batch['status']}[/]")
    out.print(f"  id            {batch['id']}")
    out.print(f"  billed        {escape(batch['billGroup'] or 'every bill group')} / "
              f"{escape(batch['division'] or 'every division')}, {batch['currency']}, invoice date "
              f"{batch['invoiceDate']}, as of {batch['asOfDate']}" + (f", posted to {batch['postMode']}"
                                                                       if batch["postMode"] else ""))
    counts = ", ".join(f"{c['status']} {c['count']}" for c in summary["billingCounts"] if c["count"])
    out.print(f"  billings      {summary['billingCount']}" + (f" ({counts})" if counts else "")
              + f", total {summary['totalAmount']}")
    out.print(f"  invoices      {summary['invoiceCount']}, due {summary['totalAmountDue']}, paid "
              f"{summary['amountPaid']}, awaiting payment {summary['amountAwaitingPayment']}")
    if summary["hiddenBillingCount"] or summary["hiddenInvoiceCount"]:
        out.print(f"  hidden        {summary['hiddenBillingCount']} billings, {summary['hiddenInvoiceCount']} "
                  "invoices of accounts this token may not see")
    if batch["jobs"]:
        out.print("Jobs")
        for job in batch["jobs"]:
            out.print(f"  {job['kind']:<10} {job['status']:<10} {job['progressDone']}/{job['progressTotal']}"
                      + (f"  {escape(job['error'])}" if job["error"] else ""))
    completion = batch["completion"]
    out.print("Completion    " + ("ready" if completion["ready"] else "not ready"))
    for blocker in completion["blockers"]:
        out.print(f"  {blocker['kind']:<18} {escape(blocker['message'])}")
    opened = [n for n in batch["notifications"] if n["status"] == "OPEN"]
    if batch["notifications"]:
        out.print(f"Notifications {len(opened)} open, {len(batch['notifications']) - len(opened)} resolved")
        for notification in opened:
            out.print(f"  {notification['kind']:<18} {escape(notification['message'])}")
    for produced in batch["exports"]:
        out.print(f"Export        {produced['format']} {produced['filename']} ({produced['size']} bytes)")
