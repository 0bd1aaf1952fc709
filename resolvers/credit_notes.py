"""Resolvers of credit notes: create, issue, void; the list and a note's audits and deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry import UNSET

import models
from domain import credit_notes
from models.enums import CreditNoteReason
from resolvers import lists
from resolvers.context import authenticated_viewer
from resolvers.inputs import decode_id
from resolvers.mutations import perform
from resolvers.pagination import Page
from resolvers.relations import CtxInfo

if TYPE_CHECKING:
    from schema.mutations.credit_notes import CreateCreditNoteInput, CreditNoteIdInput


def _given(value: Any) -> Any:
    return None if value is None or value is UNSET else value


def _line_requests(input: CreateCreditNoteInput) -> list[credit_notes.LineRequest] | None:
    """The lines asked for, every id decoded before anything is looked up (NOT_FOUND naming `invoiceLineId`)."""
    lines = _given(input.lines)
    return None if lines is None else [
        credit_notes.LineRequest(decode_id(line.invoice_line_id, "BillingDetail", "invoiceLineId"),
                                 _given(line.amount)) for line in lines]


async def create_credit_note(info: CtxInfo, input: CreateCreditNoteInput) -> Any:
    return await perform(lambda: credit_notes.create(
        authenticated_viewer(info), decode_id(input.invoice_id, "Invoice", "invoiceId"), lines=_line_requests(input),
        whole_invoice=bool(_given(input.whole_invoice)), reason=CreditNoteReason(input.reason.value),
        description=_given(input.description) or "", refund_amount=_given(input.refund_amount),
        credit_amount=_given(input.credit_amount), credit_date=_given(input.credit_date)))


async def issue_credit_note(info: CtxInfo, input: CreditNoteIdInput) -> Any:
    return await perform(lambda: credit_notes.issue(authenticated_viewer(info),
                                                    decode_id(input.id, "CreditNote", "id")))


async def void_credit_note(info: CtxInfo, input: CreditNoteIdInput) -> Any:
    return await perform(lambda: credit_notes.void(authenticated_viewer(info),
                                                   decode_id(input.id, "CreditNote", "id")))


async def credit_notes_page(info: CtxInfo, filter: Any, window: dict[str, Any]) -> Page:
    query = lists.scoped(info, models.CreditNote)
    for name, type_name in (("invoice_id", "Invoice"), ("account_id", "Account"), ("batch_id", "BillingBatch")):
        if (value := _given(getattr(filter, name, None))) is not None:
            query = lists.by_id(query, name, value, type_name)
    for name in ("status", "reason"):
        if values := _given(getattr(filter, name, None)):
            query = query.filter(**{f"{name}__in": [v.value for v in values]})
    return await lists.page_of(info, query, ["-id"], window)


async def credit_note(info: CtxInfo, gid: Any) -> Any:
    from resolvers.billing import one

    return await one(info, models.CreditNote, gid, "CreditNote")


async def audits_of(info: CtxInfo, credit_note_id: int) -> list[Any]:
    """A credit note's audit rows, newest first (one query for all the credit notes of a page)."""
    return await info.context.loaders.audits_by_credit_note_id.load(credit_note_id)


async def deliveries_of(info: CtxInfo, credit_note_id: int) -> list[Any]:
    """A credit note's deliveries (one query for all the credit notes of a page)."""
    return await info.context.loaders.deliveries_by_credit_note_id.load(credit_note_id)
