"""Writes go through one command each in db/: no module of the GraphQL layer opens a transaction.
Reads (loaders, pages, subscriptions, the credential lookup) may still open a connection."""

import ast
from pathlib import Path

GQL = Path(__file__).resolve().parent.parent / "gql"
TRANSACTION_METHODS = {"begin", "begin_nested", "commit"}
# Modules another change of issue 18 is moving onto commands; each entry goes with its last transaction.
NOT_YET_CONVERTED = {"list_mutations.py", "tracking.py"}


def transactions_opened(source: str) -> list[int]:
    """The lines that call `.begin()`, `.begin_nested()` or `.commit()` on anything."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in TRANSACTION_METHODS
    ]


def test_the_scan_finds_a_transaction() -> None:
    source = "async def f(info):\n    async with info.context.engine.begin() as conn:\n        pass\n"
    assert transactions_opened(source) == [2]
    assert transactions_opened("async def f(engine):\n    async with engine.connect() as conn:\n        pass\n") == []


def test_no_graphql_module_opens_a_transaction() -> None:
    offenders = {
        f"{path.relative_to(GQL.parent)}:{line}"
        for path in sorted(GQL.rglob("*.py"))
        if path.name not in NOT_YET_CONVERTED
        for line in transactions_opened(path.read_text(encoding="utf-8"))
    }
    assert not offenders, f"open the transaction in a command in db/ instead: {sorted(offenders)}"
