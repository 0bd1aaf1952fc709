"""Counts and times every GraphQL operation, and its errors by kind, for Prometheus (billrun/metrics.py).

One extension for HTTP and WebSocket alike. It hooks the operation (never a field: per-field hooks would make
every field async, STACK.md), so its cost is a few counter increments per request.
"""

import time
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from billrun import metrics
from billrun.settings import get_settings
from schema.limits import is_unexpected


class OperationMetrics(SchemaExtension):
    """billrun_graphql_operations_total / _operation_duration_seconds / _errors_total."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        self._counted = False
        self._streamed = False
        refusals = metrics.collect_refusals()
        refused: Exception | None = None
        try:
            yield
        except Exception as error:  # refused before running (no query, a mutation over GET): HTTP 400/405
            refused = error
            raise
        finally:
            name, kind = self._count()
            if refused is not None:
                metrics.graphql_errors.labels(name, "graphql", type(refused).__name__).inc()
            if kind != "subscription":
                metrics.graphql_duration.labels(name).observe(time.perf_counter() - started)
            result = self.execution_context.result
            if not self._streamed:
                self._count_errors(name, getattr(result, "errors", None))
            for code in refusals:
                metrics.graphql_errors.labels(name, "payload", code).inc()

    def on_stream_result(self, result: object) -> Iterator[None]:
        """Over a WebSocket each result is a frame: its errors are counted as it leaves."""
        self._streamed = True
        name, _ = self._count()
        self._count_errors(name, getattr(result, "errors", None))
        yield None

    def _count(self) -> tuple[str, str]:
        """The operation's label and type; the operation is counted the first time this is asked."""
        context = self.execution_context
        try:
            kind = context.operation_type.value if context.graphql_document is not None else "unknown"
        except (RuntimeError, AttributeError):  # the document names no runnable operation
            kind = "unknown"
        name = metrics.operation_label(context.operation_name if kind != "unknown" else None,
                                       get_settings().metrics_max_operation_names)
        if kind == "unknown":
            name = "_invalid"
        if not self._counted:
            self._counted = True
            metrics.graphql_operations.labels(name, kind).inc()
        return name, kind

    @staticmethod
    def _count_errors(name: str, errors: list[GraphQLError] | None) -> None:
        for error in errors or ():
            code = str((error.extensions or {}).get("code") or "GRAPHQL_ERROR")
            masked = is_unexpected(error) or code == "INTERNAL_ERROR"  # before or after MaskUnexpectedErrors
            metrics.graphql_errors.labels(name, "masked" if masked else "graphql",
                                          "INTERNAL_ERROR" if masked else code).inc()

