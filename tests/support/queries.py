"""The SQL statement counter of the N+1 guards (billrun/query_log.py, shared with `billrun bench graph`)."""

from billrun.query_log import QueryLog, count_queries

__all__ = ["QueryLog", "count_queries"]
