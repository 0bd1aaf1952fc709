"""The hardened edge: every limit refuses an abusive query with a clear error; bugs are masked."""

import pytest

from billrun.settings import get_settings
from schema.limits import should_mask_error
from tests.support.api import Api


async def test_depth_limit(admin: Api) -> None:
    nested = "account { contracts { " * 6
    query = "{ salesContracts { nodes { " + nested + "number" + " } }" * 6 + " } } }"
    result = await admin(query)
    assert "exceeds maximum operation depth" in result.errors[0]["message"]
    assert result.data is None


async def test_alias_limit(admin: Api) -> None:
    limit = get_settings().max_aliases
    query = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(limit + 1)) + " }"
    result = await admin(query)
    assert f"{limit}" in result.errors[0]["message"] and "aliases" in result.errors[0]["message"]


async def test_alias_limit_counts_aliases_in_fragments(admin: Api) -> None:
    limit = get_settings().max_aliases
    query = ("query { ...F } fragment F on Query { "
             + " ".join(f"a{i}: viewer {{ id }}" for i in range(limit + 1)) + " }")
    assert "aliases" in (await admin(query)).errors[0]["message"]


async def test_token_limit(admin: Api) -> None:
    query = "{ viewer { " + " ".join(["id"] * get_settings().max_tokens) + " } }"
    result = await admin(query)
    assert f"more than {get_settings().max_tokens} tokens" in result.errors[0]["message"]


async def test_cost_limit_refuses_before_running(admin: Api) -> None:
    query = """{ accounts(first: 500) { edges { node { contracts { charges { datedPrices { id periodicPrice
      charge { id description periodicPrice quantity } } } } } } }
      b: accounts(first: 500) { edges { node { id number name billGroup division currency taxLocation
      billingEmail paymentTermsDays autopayEnabled restricted createdAt hasPaymentMethod } } } }"""
    result = await admin(query)
    [error] = result.errors
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY" and "exceeds the limit" in error["message"]


async def test_cost_counts_variables_for_page_sizes(admin: Api) -> None:
    query = """query($n: Int) { accounts(first: $n) { edges { node { id number name
      contracts { id number frequency startDate charges { id description datedPrices { id periodicPrice } } }
      } } } }"""
    assert (await admin(query, {"n": 10})).errors == []
    assert (await admin(query, {"n": 500})).errors[0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_no_mutation_over_get(client, admin: Api) -> None:
    response = await client.get("/graphql", params={"query": 'mutation { logout { ok } }'},
                                headers={"Authorization": f"Bearer {admin.token}"})
    assert response.status_code in (400, 405) and "mutation" in response.text.lower()
    response = await client.get("/graphql", params={"query": "{ viewer { email } }"},
                                headers={"Authorization": f"Bearer {admin.token}"})
    assert response.json()["data"]["viewer"]["email"] == "admin@example.com"


async def test_syntax_errors_say_where(admin: Api) -> None:
    result = await admin("{ viewer { id ")
    assert "Syntax Error" in result.errors[0]["message"] and result.errors[0]["locations"]


def test_only_unexpected_exceptions_are_masked() -> None:
    from graphql import GraphQLError

    from resolvers.pagination import BadRequest

    assert should_mask_error(GraphQLError("boom", original_error=KeyError("secret internals")))
    assert not should_mask_error(GraphQLError("bad", original_error=BadRequest("bad cursor")))
    assert not should_mask_error(GraphQLError("Cannot query field"))


async def test_unexpected_error_is_masked_without_a_trace(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real bug (a broken loader) reaches the client as a generic message, never a stack trace."""
    from resolvers import lists

    async def broken(*args: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(lists, "tax_rates", broken)
    result = await admin("{ taxRates { totalCount } }")
    assert result.errors[0]["message"] == "Unexpected error; it has been logged."
    assert "hunter2" not in str(result) and "Traceback" not in str(result)


async def test_introspection_is_off_in_production(admin: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from billrun.settings import reset_settings

    query = "{ __schema { queryType { name } } }"
    assert (await admin(query)).errors == []
    monkeypatch.setenv("BILLRUN_ENV", "production")
    reset_settings()
    try:
        assert "introspection" in (await admin(query)).errors[0]["message"].lower()
    finally:
        monkeypatch.delenv("BILLRUN_ENV")
        monkeypatch.setenv("BILLRUN_ENV", "test")
        reset_settings()
