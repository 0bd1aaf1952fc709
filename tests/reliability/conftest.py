"""The reliability suite (issue: proof under faults and load) runs on its own (`make test-reliability`), on the
PostgreSQL + Redis stack, with the fixtures of `tests/conftest.py`."""
