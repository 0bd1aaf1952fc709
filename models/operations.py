"""Operational records: jobs and their chunks, notifications, audits, the event stream, idempotency keys."""

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.fields.db_defaults import SqlDefault
from tortoise.models import Model

from models._fields import created_at, nullable_text
from models.enums import JobKind, JobStatus, NotificationStatus

if TYPE_CHECKING:
    from models.access import User
    from models.billing import BillingBatch
    from models.master import Account


class Job(Model):
    """A unit of background work, with progress a client can follow."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(JobKind, max_length=16)
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.QUEUED, db_index=True)
    batch: fields.ForeignKeyNullableRelation["BillingBatch"] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="jobs", null=True, on_delete=fields.CASCADE)
    batch_id: int | None
    params: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    progress_done = fields.IntField(default=0)
    progress_total = fields.IntField(default=0)
    error = nullable_text()
    created_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="jobs", null=True, on_delete=fields.SET_NULL)
    created_by_id: int | None
    created_at = created_at()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    # The heartbeat: touched by every chunk done; the sweeper sends a job again when it goes stale. Jobs from
    # before heartbeats read as long stale (SQLite adds a column only with a constant default).
    # (The sweeper finds stale jobs through the status index: unfinished jobs are few.)
    updated_at = fields.DatetimeField(auto_now=True, db_default=SqlDefault("'1970-01-01 00:00:00+00:00'"))

    class Meta:
        table = "job"


class JobChunk(Model):
    """One idempotent slice of a job, its key makes a redelivered message a no-op."""

    id = fields.IntField(primary_key=True)
    job: fields.ForeignKeyRelation[Job] = fields.ForeignKeyField(
        "models.Job", related_name="chunks", on_delete=fields.CASCADE)
    job_id: int
    chunk_no = fields.IntField()
    size = fields.IntField(default=0)
    params: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "job_chunk"
        unique_together = (("job", "chunk_no"),)


class Notification(Model):
    """A system notification on a batch, open until a user resolves it with a note."""

    id = fields.IntField(primary_key=True)
    batch: fields.ForeignKeyNullableRelation["BillingBatch"] = fields.ForeignKeyField(
        "models.BillingBatch", related_name="notifications", null=True, db_index=True, on_delete=fields.CASCADE)
    batch_id: int | None
    # The account it is about, if one: a notification about a restricted account is hidden like the account.
    account: fields.ForeignKeyNullableRelation["Account"] = fields.ForeignKeyField(
        "models.Account", related_name="notifications", null=True, on_delete=fields.CASCADE)
    account_id: int | None
    kind = fields.CharField(max_length=64)
    message = fields.TextField()
    status = fields.CharEnumField(NotificationStatus, max_length=8, default=NotificationStatus.OPEN)
    dedupe_key = fields.CharField(max_length=200, null=True, unique=True)
    resolved_by: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="resolved_notifications", null=True, on_delete=fields.SET_NULL)
    resolved_by_id: int | None
    resolved_at = fields.DatetimeField(null=True)
    resolution_note = nullable_text()
    created_at = created_at()

    class Meta:
        table = "notification"


class Audit(Model):
    """Before/after of one key field of one record, written in the same transaction, never changed."""

    id = fields.BigIntField(primary_key=True)
    entity = fields.CharField(max_length=32)
    entity_id = fields.IntField()
    field = fields.CharField(max_length=64)
    before = nullable_text()
    after = nullable_text()
    operation = fields.CharField(max_length=32)
    actor: fields.ForeignKeyNullableRelation["User"] = fields.ForeignKeyField(
        "models.User", related_name="audits", null=True, on_delete=fields.RESTRICT)
    actor_id: int | None
    actor_label = fields.CharField(max_length=254, default="system")
    batch_id = fields.IntField(null=True, db_index=True)
    billing_id = fields.IntField(null=True, db_index=True)
    # The account the audited record belongs to (null: a batch or period row, about no account). An audit row is
    # hidden with its account. A plain column, not a foreign key: audit rows outlive what they describe.
    account_id = fields.IntField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "audit"
        indexes = (("entity", "entity_id"),)


class Event(Model):
    """One fact of the event stream, written in the transaction of the change it reports (docs/EVENTS.md).

    Its id is its cursor: ids are taken when the transaction ends, under a lock held until it commits, so they
    grow in the order transactions become visible and a reader going forward by id never skips one. The links
    are plain columns, not foreign keys: an event outlives what it reports (a deleted billing), and taking
    key-share locks on other rows under the cursor lock could deadlock.
    """

    id = fields.BigIntField(primary_key=True, generated=False)
    type = fields.CharField(max_length=40)
    batch_id = fields.IntField(null=True)
    job_id = fields.IntField(null=True)
    billing_id = fields.IntField(null=True)
    invoice_id = fields.IntField(null=True)
    # The account it is about (null: about a batch or the company): hidden from whoever may not see that account.
    account_id = fields.IntField(null=True)
    payload: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "event"
        indexes = (("batch_id", "id"), ("job_id", "id"))


class IdempotencyRecord(Model):
    """A mutation's response per caller (a bearer token) and idempotency key: a claim while its request runs
    (no response yet), then the response as sent, replayed to retries (kept 24 h at least)."""

    id = fields.IntField(primary_key=True)
    caller = fields.CharField(max_length=64)
    key = fields.CharField(max_length=200)
    operation = fields.CharField(max_length=64)  # the mutation field, for the mismatch message
    request_hash = fields.CharField(max_length=64)  # HMAC of the request, keyed by the caller's token
    # The response's JSON text exactly as sent (text, not JSON: PostgreSQL's jsonb would reorder its keys).
    response = nullable_text()
    created_at = created_at()
    # While running: the end of the claim's lease (a request that died frees its key then); once answered,
    # the end of the replay window. Past it the record no longer holds its key and the purge deletes it.
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_record"
        unique_together = (("caller", "key"),)
