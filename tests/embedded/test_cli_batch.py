"""`billrun batch …` on the embedded default, as an operator runs it after `make run`: a real `billrun serve` on its
own SQLite file with the demo company (the `demo` fixture), the real command as a subprocess talking to it over
HTTP and WebSocket."""

import re

from billrun.client import ExitCode
from tests.support import cli
from tests.support.live_server import free_port


def _created(port: int, token: str, name: str) -> dict:
    run = cli.batch(port, token, "create", "--name", name, "--json")
    assert run.code == ExitCode.OK, run.stderr
    return run.json()["billingBatch"]


def test_process_wait_shows_the_job_s_progress_and_exits_0_with_the_summary(demo: tuple[int, str]) -> None:
    port, token = demo
    batch = _created(port, token, "Followed run")
    assert batch["status"] == "NOT_STARTED"

    run = cli.batch(port, token, "process", batch["code"], "--wait")

    assert run.code == ExitCode.OK, run.stderr
    # The bar's last frame: the job's units done of its total, and a rate, which takes two progress events.
    frame = re.search(cli.BAR_FRAME.format(label="Processing"), run.stderr)
    assert frame, run.stderr
    shown = cli.batch(port, token, "show", batch["id"], "--json").json()["billingBatch"]
    [job] = [j for j in shown["jobs"] if j["kind"] == "PROCESS"]
    assert job["status"] == "SUCCEEDED" and int(frame[1]) == int(frame[2]) == job["progressTotal"] > 0
    # Then the summary, `show`'s, with the batch's figures.
    summary = shown["summary"]
    assert shown["status"] == "PROCESSED" and summary["billingCount"] > 0
    assert f"{batch['code']}  Followed run  PROCESSED" in run.stdout
    assert (f"billings      {summary['billingCount']} (NEW {summary['billingCount']}), "
            f"total {summary['totalAmount']}") in run.stdout
    assert f"PROCESS    SUCCEEDED  {job['progressDone']}/{job['progressTotal']}" in run.stdout
    assert "Completion    not ready" in run.stdout and "NOT_POSTED" in run.stdout


def test_json_is_one_document_for_scripts_and_refusals_exit_1_with_their_code(demo: tuple[int, str]) -> None:
    port, token = demo
    batch = _created(port, token, "Scripted run")
    analyzed = cli.batch(port, token, "analyze", batch["id"], "--json")
    assert analyzed.code == ExitCode.OK, analyzed.stderr
    preview = analyzed.json()["preview"]

    run = cli.batch(port, token, "process", batch["id"], "--wait", "--json")

    assert run.code == ExitCode.OK, run.stderr
    assert "━" not in run.stderr + run.stdout  # no bar
    result = run.json()
    assert result["job"]["kind"] == "PROCESS" and result["job"]["status"] == "SUCCEEDED"
    assert result["billingBatch"]["status"] == "PROCESSED"
    assert result["billingBatch"]["summary"]["billingCount"] == preview["billingCount"]
    assert result["billingBatch"]["summary"]["totalAmount"] == preview["amount"]

    again = cli.batch(port, token, "process", batch["code"])
    assert again.code == ExitCode.REFUSED
    assert re.search(r"^INVALID_STATUS \(batchId\): .*PROCESSED", again.stderr, re.MULTILINE), again.stderr
    again = cli.batch(port, token, "process", batch["code"], "--wait", "--json")
    assert again.code == ExitCode.REFUSED and [e["code"] for e in again.json()["errors"]] == ["INVALID_STATUS"]
    early = cli.batch(port, token, "complete", batch["code"], "--json")
    assert early.code == ExitCode.REFUSED and {e["code"] for e in early.json()["errors"]} == {"NOT_READY"}
    unknown = cli.batch(port, token, "show", "BB-999999")
    assert unknown.code == ExitCode.REFUSED and unknown.stderr.startswith("NOT_FOUND")


def test_a_retried_command_acts_once(demo: tuple[int, str]) -> None:
    port, token = demo
    first = cli.batch(port, token, "create", "--name", "Retried run", "--idempotency-key", "run-42", "--json")
    retried = cli.batch(port, token, "create", "--name", "Retried run", "--idempotency-key", "run-42", "--json")
    assert first.code == retried.code == ExitCode.OK, retried.stderr
    assert retried.json()["billingBatch"]["id"] == first.json()["billingBatch"]["id"]  # not a second batch
    other = cli.batch(port, token, "create", "--name", "Another run", "--idempotency-key", "run-42")
    assert other.code == ExitCode.REFUSED and other.stderr.startswith("IDEMPOTENCY_KEY_MISMATCH")


def test_exit_codes_say_what_happened(demo: tuple[int, str]) -> None:
    port, token = demo
    bad_token = cli.batch(port, "brn_not-a-token", "process", "BB-000001", "--wait")
    assert bad_token.code == ExitCode.AUTH and "UNAUTHENTICATED" in bad_token.stderr
    no_token = cli.batch(port, None, "show", "BB-000001", "--json")
    assert no_token.code == ExitCode.AUTH and no_token.json()["errors"][0]["code"] == "UNAUTHENTICATED"
    malformed = cli.batch(port, token, "show", "not a global id")
    assert malformed.code == ExitCode.USAGE and "GlobalID" in malformed.stderr
    usage = cli.batch(port, token, "post", "BB-000001", "--mode", "FAX")
    assert usage.code == ExitCode.USAGE
    nobody = cli.batch(None, token, "show", "BB-000001", "--url", f"http://127.0.0.1:{free_port()}/graphql")
    assert nobody.code == ExitCode.UNREACHABLE and nobody.stderr.startswith("UNREACHABLE")
