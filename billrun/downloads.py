"""File downloads over HTTP with the same bearer token as the API: billing details as CSV, accounting
exports, invoice PDFs, delivered invoice e-mails. Each is reachable from the graph by a URL field built here
(`…Url`), and answers 404 for what the viewer may not see, exactly as for what does not exist."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from strawberry import relay

import models
from domain import credit_notes, exports, sending
from domain.access import Viewer, visible
from models.enums import CreditNoteStatus, DeliveryChannel, DeliveryStatus, Permission
from resolvers.context import build_context
from resolvers.inputs import global_pk

BILLING_DETAILS_CSV = "/exports/billing-details.csv"
ACCOUNTING_EXPORT = "/exports/{export_id}"
INVOICE_PDF = "/invoices/{invoice_id}.pdf"
CREDIT_NOTE_PDF = "/credit-notes/{credit_note_id}.pdf"
DELIVERED_MESSAGE = "/deliveries/{delivery_id}.eml"


def _gid(type_name: str, pk: int) -> str:
    return quote(relay.to_base64(type_name, pk), safe="")


def billing_details_csv_url(*, batch_id: int | None = None, billing_id: int | None = None) -> str:
    if batch_id is not None:
        return f"{BILLING_DETAILS_CSV}?batchId={_gid('BillingBatch', batch_id)}"
    if billing_id is None:
        raise ValueError("The CSV of what? Give a batch id or a billing id.")
    return f"{BILLING_DETAILS_CSV}?billingId={_gid('PeriodicBilling', billing_id)}"


def accounting_export_url(export_id: int) -> str:
    return ACCOUNTING_EXPORT.format(export_id=_gid("Export", export_id))


def invoice_pdf_url(invoice_id: int) -> str:
    return INVOICE_PDF.format(invoice_id=_gid("Invoice", invoice_id))


def credit_note_pdf_url(credit_note_id: int) -> str:
    return CREDIT_NOTE_PDF.format(credit_note_id=_gid("CreditNote", credit_note_id))


def delivered_message_url(delivery: models.Delivery) -> str | None:
    """Where to download an invoice e-mail written to the outbox folder; None for SMTP or a failed delivery."""
    if delivery.channel != DeliveryChannel.OUTBOX_FILE or delivery.status != DeliveryStatus.SENT or not delivery.path:
        return None
    return DELIVERED_MESSAGE.format(delivery_id=_gid("Delivery", delivery.id))


def _problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


def _id(value: str | None, type_name: str) -> int | None:
    """The database id a global id in a URL names, or None (malformed, another type, out of range: 404)."""
    if not value:
        return None
    try:
        return global_pk(relay.GlobalID.from_id(value), type_name)
    except ValueError:
        return None


async def _viewer(request: Request) -> Viewer | JSONResponse:
    context = await build_context(request, request.headers.get("authorization"))
    if context.viewer is None:
        return _problem(401, "UNAUTHENTICATED", context.auth_problem or "Send Authorization: Bearer <token>.")
    return context.viewer


async def billing_details_csv(request: Request) -> Response:
    """GET /exports/billing-details.csv?batchId=<id> or ?billingId=<id> — one row per detail line."""
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    batch_id = _id(request.query_params.get("batchId"), "BillingBatch")
    billing_id = _id(request.query_params.get("billingId"), "PeriodicBilling")
    if batch_id is not None and await visible(viewer, models.BillingBatch).filter(id=batch_id).exists():
        code = await models.BillingBatch.filter(id=batch_id).first().values_list("code", flat=True)
        name, rows = f"{code}-billing-details.csv", exports.billing_detail_csv(viewer, batch_id=batch_id)
    elif billing_id is not None and await visible(viewer, models.PeriodicBilling).filter(id=billing_id).exists():
        name, rows = f"billing-{billing_id}-details.csv", exports.billing_detail_csv(viewer, billing_id=billing_id)
    else:
        return _problem(404, "NOT_FOUND", "Pass the global id of a batch (batchId) or billing (billingId) "
                        "that you may see.")
    return StreamingResponse(_utf8(rows), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _utf8(rows: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for piece in rows:
        yield piece.encode("utf-8")


async def accounting_export(request: Request) -> Response:
    """GET /exports/<export id> — an accounting export file: BILLING_SEND_EXPORT, and sight of every invoice of
    its batch (as exporting needs; an export is hidden from whoever lacks it)."""
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    export_id = _id(request.path_params["export_id"], "Export")
    # An export of a batch with invoices hidden from the viewer is hidden itself (domain.access.visible).
    export = await visible(viewer, models.Export).get_or_none(id=export_id) if export_id is not None else None
    if export is None:
        return _problem(404, "NOT_FOUND", "No export with this global id.")
    if not viewer.can(Permission.BILLING_SEND_EXPORT):
        return _problem(403, "PERMISSION_DENIED", "Exports need BILLING_SEND_EXPORT.")
    return Response(export.content, media_type=export.content_type, headers={
        "Content-Disposition": f'attachment; filename="{export.filename}"', "ETag": f'"{export.sha256}"'})


async def invoice_pdf(request: Request) -> Response:
    """GET /invoices/<invoice id>.pdf — the invoice as sent, for anyone who may see the invoice."""
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    invoice_id = _id(request.path_params["invoice_id"], "Invoice")
    if invoice_id is None or not await visible(viewer, models.Invoice).filter(id=invoice_id).exists():
        return _problem(404, "NOT_FOUND", "No invoice with this global id that you may see.")
    return _pdf(await sending.render(invoice_id), "invoice")


def _pdf(rendered: tuple[str, bytes] | None, what: str) -> Response:
    if rendered is None:  # deleted since the visibility check
        return _problem(404, "NOT_FOUND", f"No {what} with this global id that you may see.")
    name, pdf = rendered
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


async def credit_note_pdf(request: Request) -> Response:
    """GET /credit-notes/<credit note id>.pdf — an issued credit note as sent, for anyone who may see it (the
    same rule as its invoice's PDF: hidden reads as absent)."""
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    note_id = _id(request.path_params["credit_note_id"], "CreditNote")
    if note_id is None or not await visible(viewer, models.CreditNote).filter(
            id=note_id, status=CreditNoteStatus.ISSUED).exists():
        return _problem(404, "NOT_FOUND", "No credit note with this global id that you may see.")
    return _pdf(await credit_notes.render(note_id), "credit note")


async def delivered_message(request: Request) -> Response:
    """GET /deliveries/<delivery id>.eml — an invoice e-mail as written to the outbox folder (no SMTP server
    configured), for anyone who may see the invoice."""
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    delivery_id = _id(request.path_params["delivery_id"], "Delivery")
    delivery = (await visible(viewer, models.Delivery).get_or_none(id=delivery_id)
                if delivery_id is not None else None)
    url = delivered_message_url(delivery) if delivery is not None else None
    if delivery is None or url is None or delivery.path is None:
        return _problem(404, "NOT_FOUND", "No delivered message with this global id that you may see.")
    path = Path(delivery.path)  # written by the sender, never by a client
    if path.suffix != ".eml" or not await asyncio.to_thread(path.is_file):
        return _problem(404, "NOT_FOUND", "The message is no longer in the outbox folder of this server.")
    content = await asyncio.to_thread(path.read_bytes)
    return Response(content, media_type="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="{path.name}"'})
