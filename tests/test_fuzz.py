"""Property-based fuzzing over the schema, through the real ASGI app: whatever a client sends, as an
anonymous caller, a user or an admin, the answer is never a 5xx, never a masked internal error and
never an ERROR log line.

Bounded for the suite (OMT_FUZZ_EXAMPLES examples per property, default 40, derandomized so that CI is
reproducible); `OMT_FUZZ_EXAMPLES=2000 OMT_FUZZ_RANDOM=1 pytest tests/test_fuzz.py -s` is the longer run.
"""

import asyncio
import collections
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import hypothesis_graphql
import pytest
from graphql import GraphQLInputType, OperationDefinitionNode, type_from_ast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.app import create_app
from gql.config import Limits, Settings
from gql.schema import schema
from tests.client import GraphQLClient, asgi_client
from tests.contract import DOCUMENT, OPERATIONS
from tests.factories import make_media, make_user
from tests.fuzz import documents, variable_values

EXAMPLES = int(os.environ.get("OMT_FUZZ_EXAMPLES", "40"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not os.environ.get("OMT_FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
)
CALLERS = st.sampled_from(["anonymous", "user", "admin"])


class ErrorLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_lines() -> Iterator[ErrorLines]:
    handler = ErrorLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture
async def fuzz_client(engine: AsyncEngine, database_url: str) -> AsyncIterator[GraphQLClient]:
    settings_ = Settings(environment="development", limits=Limits(rate_limit_per_minute=0))
    async with asgi_client(create_app(settings_, database_url, engine=engine), "10.9.0.1") as client:
        yield client


class Fuzzer:
    """Runs hypothesis in a worker thread; each example's request goes to the test's event loop."""

    def __init__(self, client: GraphQLClient, engine: AsyncEngine, loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.engine = engine
        self.loop = loop
        self.statuses: collections.Counter[int] = collections.Counter()
        self.codes: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []
        self.tokens: dict[str, str] = {}
        self.uses: collections.Counter[str] = collections.Counter()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _token(self, who: str) -> str | None:
        """A user's or an admin's session, made anew every few requests (a fuzzed logout ends one)."""
        if who == "anonymous":
            return None
        if who not in self.tokens or self.uses[who] >= 10:
            _, self.tokens[who] = await make_user(self.engine, role="admin" if who == "admin" else "user")
            self.uses[who] = 0
        self.uses[who] += 1
        return self.tokens[who]

    async def _post(self, who: str, body: dict[str, Any]) -> tuple[int, Any]:
        headers = {"content-type": "application/json", "accept": "application/graphql-response+json"}
        token = await self._token(who)
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        response = await self.client.http.post("/graphql", content=json.dumps(body).encode(), headers=headers)
        return response.status_code, response.json()

    def check(self, who: str, body: dict[str, Any]) -> None:
        status, answer = self.run(self._post(who, body))
        self.statuses[status] += 1
        codes = [error.get("extensions", {}).get("code", "-") for error in answer.get("errors", [])]
        self.codes.update(codes)
        if status >= 500 or "INTERNAL_SERVER_ERROR" in codes:
            self.failures.append(f"{status} {codes} for {who}: {json.dumps(body)[:500]}")
        assert status < 500, answer
        assert "INTERNAL_SERVER_ERROR" not in codes, (body, answer)

    def report(self, name: str) -> None:
        print(
            f"\n{name}: {sum(self.statuses.values())} requests, statuses {dict(self.statuses)}, codes {dict(self.codes)}"
        )


@pytest.fixture
async def fuzzer(fuzz_client: GraphQLClient, engine: AsyncEngine) -> Fuzzer:
    await make_media(engine, title="Dune", collection_path="dune")
    return Fuzzer(fuzz_client, engine, asyncio.get_running_loop())


@pytest.mark.parametrize("mode", [hypothesis_graphql.Mode.POSITIVE, hypothesis_graphql.Mode.NEGATIVE])
async def test_no_generated_document_gets_a_masked_error(
    fuzzer: Fuzzer, error_lines: ErrorLines, mode: hypothesis_graphql.Mode
) -> None:
    @FUZZ_SETTINGS
    @given(document=documents(schema._schema, mode), who=CALLERS)
    def property_(document: str, who: str) -> None:
        fuzzer.check(who, {"query": document})

    await asyncio.to_thread(property_)
    fuzzer.report(f"documents ({mode.name})")
    assert fuzzer.failures == []
    assert [record.getMessage() for record in error_lines.records] == []


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_no_generated_variables_get_a_masked_error(
    fuzzer: Fuzzer, error_lines: ErrorLines, operation: str
) -> None:
    definitions = (
        next(
            d
            for d in DOCUMENT.definitions
            if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == operation
        ).variable_definitions
        or ()
    )
    types = {
        d.variable.name.value: cast(GraphQLInputType, type_from_ast(schema._schema, d.type))
        for d in definitions
    }
    variables = st.fixed_dictionaries(
        {}, optional={name: variable_values(t) for name, t in types.items() if t}
    )

    @settings(FUZZ_SETTINGS, max_examples=max(EXAMPLES // 4, 5))
    @given(values=variables, who=CALLERS)
    def property_(values: dict[str, Any], who: str) -> None:
        fuzzer.check(who, {"query": OPERATIONS[operation], "variables": values})

    await asyncio.to_thread(property_)
    fuzzer.report(f"variables of {operation}")
    assert fuzzer.failures == []
    assert [record.getMessage() for record in error_lines.records] == []
