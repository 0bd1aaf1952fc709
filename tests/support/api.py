"""A GraphQL client over HTTP against the ASGI app, the way the SPA and partners call it."""

from typing import Any

import httpx


class GraphQLResult(dict):
    @property
    def data(self) -> Any:
        return self.get("data")

    @property
    def errors(self) -> list[dict]:
        return self.get("errors") or []


class Api:
    """POSTs GraphQL to /graphql with an optional bearer token."""

    def __init__(self, client: httpx.AsyncClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def as_(self, token: str | None) -> "Api":
        return Api(self.client, token)

    async def raw(self, query: str, variables: dict | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                      headers=headers)

    async def __call__(self, query: str, variables: dict | None = None) -> GraphQLResult:
        response = await self.raw(query, variables)
        assert response.status_code == 200, response.text
        return GraphQLResult(response.json())

    async def ok(self, query: str, variables: dict | None = None) -> Any:
        """Run and insist on no GraphQL errors; returns `data`."""
        result = await self(query, variables)
        assert not result.errors, result.errors
        return result.data

    async def mutate(self, name: str, query: str, variables: dict | None = None) -> dict:
        """Run a mutation and insist on an empty `errors` list in its payload; returns the payload."""
        data = await self.ok(query, variables)
        payload = data[name]
        assert payload["errors"] == [], payload["errors"]
        return payload
