"""Writes go through one command each in db/: no module of the GraphQL layer opens a transaction.
Reads go through the loaders (`Loaders.read` for a read that is no batch): no resolver module opens a
connection; only the infrastructure below does."""

import ast
from pathlib import Path

from db.refusals import FIELD, Refusal, RefusalCode
from gql.commands import user_error

GQL = Path(__file__).resolve().parent.parent / "gql"
TRANSACTION_METHODS = {"begin", "begin_nested", "commit"}
# The loaders (and their one-off `read`), the outage probe, the HTTP app (credentials, health, export
# streaming) and the command line: no resolver.
MAY_OPEN_CONNECTIONS = {"gql/loaders.py", "gql/outage.py", "gql/app.py", "gql/cli.py"}


def transactions_opened(source: str) -> list[int]:
    """The lines that call `.begin()`, `.begin_nested()` or `.commit()` on anything."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TRANSACTION_METHODS
    ]


def connections_opened(source: str) -> list[int]:
    """The lines that call `.connect()` without arguments (an engine's) on anything: the WebSocket
    hub's `connect(live)` registers a client."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "connect"
        and not node.args
        and not node.keywords
    ]


def test_the_scan_finds_a_transaction() -> None:
    source = "async def f(info):\n    async with info.context.engine.begin() as conn:\n        pass\n"
    assert transactions_opened(source) == [2]
    assert (
        transactions_opened("async def f(engine):\n    async with engine.connect() as conn:\n        pass\n")
        == []
    )


def test_no_graphql_module_opens_a_transaction() -> None:
    offenders = {
        f"{path.relative_to(GQL.parent)}:{line}"
        for path in sorted(GQL.rglob("*.py"))
        for line in transactions_opened(path.read_text(encoding="utf-8"))
    }
    assert not offenders, f"open the transaction in a command in db/ instead: {sorted(offenders)}"


def test_the_scan_finds_a_connection() -> None:
    source = (
        "async def f(info):\n    x = 1\n    async with info.context.reads.connect() as conn:\n"
        "        return await g(conn)\n"
    )
    assert connections_opened(source) == [3]
    assert connections_opened("async def f(info):\n    return await info.context.loaders.read(g, 1)\n") == []
    assert connections_opened("def f(hub, live):\n    return hub.connect(live)\n") == []


def test_no_resolver_module_opens_a_connection() -> None:
    modules = {str(path.relative_to(GQL.parent)): path for path in sorted(GQL.rglob("*.py"))}
    assert modules.keys() >= MAY_OPEN_CONNECTIONS, "a module allowed to connect is gone: shrink the list"
    offenders = {
        f"{name}:{line}"
        for name, path in modules.items()
        if name not in MAY_OPEN_CONNECTIONS
        for line in connections_opened(path.read_text(encoding="utf-8"))
    }
    assert not offenders, f"read through a loader or `loaders.read` instead: {sorted(offenders)}"


def test_refusals_are_answered_in_the_apis_spelling() -> None:
    """Field names become camelCase and the message names the field as the API does; keys inside a
    JSON value stay as the client wrote them."""
    refusal = Refusal(
        RefusalCode.INVALID, f"{FIELD} must be an integer", ("attributes",), within=("page_count",)
    )
    error = user_error(refusal)
    assert (error.field, error.message) == (
        ["attributes", "page_count"],
        "attributes.page_count must be an integer",
    )
    error = user_error(Refusal(RefusalCode.NOT_FOUND, "No media item has this id", ("related_media_id",)))
    assert (error.field, error.message) == (["relatedMediaId"], "No media item has this id")
