"""Test support: the GraphQL client, the query counter, data builders and the worker process."""
