"""File downloads over HTTP with the same bearer token as the API: billing details as CSV, accounting
exports, invoice PDFs."""

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from strawberry import relay

import models
from domain import accounting_export as accounting_exports
from domain import exports, sending
from domain.access import Viewer, visible
from models.enums import Permission
from resolvers.context import build_context


def _problem(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


def _id(value: str | None, type_name: str) -> int | None:
    if not value:
        return None
    try:
        gid = relay.GlobalID.from_id(value)
        return int(gid.node_id) if gid.type_name == type_name else None
    except (ValueError, TypeError):
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
    its batch (as exporting needs)."""
    viewer = await _viewer(request)
    if isinstance(viewer, JSONResponse):
        return viewer
    export_id = _id(request.path_params["export_id"], "Export")
    export = await visible(viewer, models.Export).get_or_none(id=export_id) if export_id is not None else None
    if export is None:
        return _problem(404, "NOT_FOUND", "No export with this global id.")
    if not viewer.can(Permission.BILLING_SEND_EXPORT) or await accounting_exports.hidden_invoices(viewer,
                                                                                                export.batch_id):
        return _problem(403, "PERMISSION_DENIED", "Exports need BILLING_SEND_EXPORT and sight of every invoice "
                        "of the batch.")
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
    name, pdf = await sending.render(invoice_id)  # type: ignore[misc]
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})
