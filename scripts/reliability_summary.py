"""Write the latest reliability run's table into docs/RELIABILITY.md (between its two summary markers) from
tests/reliability/results.json: per section the lost / duplicated / leaked counts and the headline figures.

    .venv/bin/python scripts/reliability_summary.py
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "tests" / "reliability" / "results.json"
DOC = ROOT / "docs" / "RELIABILITY.md"
BEGIN, END = "<!-- latest run: begin -->", "<!-- latest run: end -->"

HEADLINES = {
    "worker_crash": ["kills", "recovery_seconds_p50", "recovery_seconds_max", "heartbeat_timeout_ms",
                     "webhook_requests", "webhook_redeliveries", "emails_reported_unknown"],
    "commit_send_gaps": ["api_dies_before_commit", "api_dies_after_commit", "worker_dies_before_follow_ups_sent"],
    "outages": ["redis_outage_seconds", "unready_seconds_redis", "database_outage_seconds",
                "database_backends_killed", "billings", "events_expected", "job_messages_given_up"],
    "ledger_property": ["examples", "steps", "entries_written", "max_imbalance", "journal_rows_mutated",
                        "receivable_mismatches", "wall_seconds"],
    "preview_equals_processing": ["examples", "billings_compared", "lines_compared", "mismatches", "wall_seconds"],
    "gateway_faults": ["invoices", "sandbox_charges", "charges_taken", "payments_succeeded",
                       "timeouts_settled_by_sweeper", "duplicated_answers_recorded_once"],
    "across_hosts": ["shared_batch_seconds", "transactions_of_b_open_at_cut", "chunks_on_a_after_cut",
                     "seconds_from_cut_to_complete"],
    "load": ["clients", "seconds", "changes_applied", "audit_rows", "failures", "events_delivered",
             "events_missed", "p99_ms"],
    "abuse_under_load": ["abusers", "abusive_failures", "p99_ms_without_abusers", "p99_ms_with_abusers",
                         "p99_ratio"],
}


def _flat(value: object) -> str:
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k} {_flat(v)}" for k, v in value.items()) + ")"
    return str(value)


def table(data: dict) -> str:
    rows = ["| section | lost | duplicated | leaked | figures | at |", "|---|---:|---:|---:|---|---|"]
    for name, keys in HEADLINES.items():
        section = data["sections"].get(name)
        if section is None:
            rows.append(f"| {name} | — | — | — | **not run** | |")
            continue
        figures = ", ".join(f"{key} {_flat(section[key])}" for key in keys if key in section)
        rows.append(f"| {name} | {section['lost']} | {section['duplicated']} | {section['leaked']} | {figures} "
                    f"| {section['at']} |")
    machine = data.get("machine", {})
    return (f"Latest run: commit `{data.get('commit', '')}`, `{data.get('command', '')}`, {machine.get('cpus')} "
            f"cores, Python {machine.get('python')}.\n\n" + "\n".join(rows))


def main() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table(json.loads(RESULTS.read_text()))}\n{END}{tail}")


if __name__ == "__main__":
    main()
