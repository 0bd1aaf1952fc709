"""File downloads over HTTP with the same bearer token as the API: billing details as CSV."""

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from strawberry import relay

import models
from domain import exports
from domain.access import Viewer, visible
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


async def billing_details_csv(request: Request) -> Response:
    """GET /exports/billing-details.csv?batchId=<id> or ?billingId=<id> — one row per detail line."""
    context = await build_context(request, request.headers.get("authorization"))
    viewer: Viewer | None = context.viewer
    if viewer is None:
        return _problem(401, "UNAUTHENTICATED", context.auth_problem or "Send Authorization: Bearer <token>.")
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
