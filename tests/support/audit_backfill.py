"""Audit rows as a release before `audit.account_id` left them, and what the migration must make of them.

The same SQL seeds PostgreSQL and SQLite; the tests run `tests.support.migrate_to` in a process of their own.
"""

import subprocess
import sys

from tests.support.worker import ROOT

BEFORE = "models.0008_ledger_indexes"  # before billing dates and audit accounts: both migrations apply to the seed
AT = "'2026-05-01 00:00:00+00:00'"

SEED = [
    "INSERT INTO app_user (id, email, name, permissions, is_active, created_at) VALUES "
    f"(1, 'a@example.com', 'A', '[]', TRUE, {AT})",
    *(f"INSERT INTO account (id, number, name, bill_group, division, currency, tax_location, billing_email, "
      f"payment_terms_days, autopay_enabled, restricted, created_at, updated_at) VALUES ({i}, 'A-{i}', 'A {i}', "
      f"'G', 'D', 'USD', 'ZERO', 'a{i}@example.com', 30, FALSE, {restricted}, {AT}, {AT})"
      for i, restricted in ((1, "TRUE"), (2, "FALSE"))),
    "INSERT INTO billing_batch (id, code, name, currency, invoice_date, as_of_date, status, created_at, updated_at, "
    f"version) VALUES (1, 'BB-000001', 'May', 'USD', '2026-05-01', '2026-05-01', 'PROCESSED', {AT}, {AT}, 1)",
    *(f"INSERT INTO periodic_billing (id, batch_id, account_id, period_start, period_end, as_of_date, amount, "
      f"status, tax_location, internal_comment, external_comment, version, created_at, updated_at) VALUES "
      f"({i}, 1, {i}, '2026-05-01', '2026-05-31', '2026-05-01', 10, 'NEW', 'ZERO', '', '', 1, {AT}, {AT})"
      for i in (1, 2)),
    "INSERT INTO billing_detail (id, billing_id, position, kind, description, amount, trace, created_at) VALUES "
    f"(7, 1, 0, 'MISC', 'Fee', 10, '{{}}', {AT})",
    f"INSERT INTO notification (id, batch_id, account_id, kind, message, status, created_at) VALUES "
    f"(5, 1, 2, 'DELIVERY_FAILED', 'bounced', 'OPEN', {AT})",
]
# (audit id, entity, entity_id, batch_id, billing_id) -> the account the migration must give it.
AUDITS = {
    (1, "PeriodicBilling", 1, 1, 1): 1,  # names its billing
    (2, "PeriodicBilling", 2, 1, None): 2,  # is about a billing, without naming it in billing_id
    (3, "BillingDetail", 7, 1, None): 1,  # a detail: its billing's account
    (4, "RevenueDistribution", 7, 1, None): 1,  # a detail's distributions (entity_id is the detail's)
    (5, "Notification", 5, 1, None): 2,
    (6, "BillingBatch", 1, 1, None): None,  # about the batch, no account
    (7, "PeriodicBilling", 99, 1, 99): None,  # its billing was deleted: nothing to learn it from
}


def seed_sql() -> list[str]:
    rows = [f"INSERT INTO audit (id, entity, entity_id, field, before, after, operation, actor_label, batch_id, "
            f"billing_id, at) VALUES ({aid}, '{entity}', {entity_id}, 'status', 'NEW', 'HOLD', 'EDIT', 'system', "
            f"{batch_id}, {'NULL' if billing_id is None else billing_id}, {AT})"
            for aid, entity, entity_id, batch_id, billing_id in AUDITS]
    return SEED + rows


def expected() -> list[tuple[int, int | None]]:
    return sorted((key[0], account) for key, account in AUDITS.items())


def migrate_to(url: str, target: str | None = None) -> None:
    """Run the migrations of this checkout on `url`, up to `target` (default: all), in a process of its own."""
    args = [sys.executable, "-m", "tests.support.migrate_to", url] + ([target] if target else [])
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
