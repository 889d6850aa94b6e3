"""gql/execution.py reads plain leaf fields without graphql-core's per-field machinery: every outcome
(values, nulls, errors and their paths) must be the one graphql-core gives."""

import gc
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gql.execution import ExecutionContext, plain_leaf_fields
from gql.schema import schema as app_schema


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Broken:
    def __str__(self) -> str:
        raise RuntimeError("not a string")


@strawberry.type
class Item:
    name: str
    nickname: str | None
    count: int
    ratio: float
    flag: bool
    colour: Colour
    maybe_colour: Colour | None
    key: strawberry.ID
    payload: JSON

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


def item(**changes: Any) -> Item:
    values: dict[str, Any] = {
        "name": "a",
        "nickname": None,
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "colour": Colour.RED,
        "maybe_colour": None,
        "key": "k1",
        "payload": {"x": [1]},
    }
    return Item(**{**values, **changes})


ITEMS = [
    item(),
    item(name="b", nickname="bee", maybe_colour=Colour.BLUE, count=-2, flag=False),
    item(name=None),  # a null for a non-null field
    item(count="many"),  # a value Int refuses
    item(colour="green"),  # not a member of the enum
    item(nickname=Broken(), ratio=float("nan")),  # values the scalars refuse
    item(maybe_colour=ValueError("an exception as a value")),
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return list(ITEMS)


DOCUMENT = """{ items { name nickname count ratio flag colour maybeColour key payload shout
  again: name ... on Item { count } } }"""


def run(execution_context_class: type) -> Any:
    schema = strawberry.Schema(query=Query, execution_context_class=execution_context_class)
    result = schema.execute_sync(DOCUMENT)
    errors = sorted((error.message, tuple(error.path or ())) for error in result.errors or ())
    return result.data, errors


def test_plain_leaf_fields_answer_as_graphql_core_does() -> None:
    fast = run(ExecutionContext)
    assert fast == run(StrawberryGraphQLCoreExecutionContext)
    data, errors = fast
    assert data["items"][1]["nickname"] == "bee"
    assert data["items"][1]["maybeColour"] == "BLUE"
    assert data["items"][2] is None
    assert data["items"][3] is None
    assert len(errors) == 6


def test_only_plain_fields_of_builtin_scalars_and_enums_take_the_short_path() -> None:
    schema = strawberry.Schema(query=Query)
    plain = {field for type_name, field in plain_leaf_fields(schema._schema) if type_name == "Item"}
    assert plain == {"name", "nickname", "count", "ratio", "flag", "colour", "maybeColour", "key"}


def test_the_app_schema_executes_with_the_short_path() -> None:
    assert app_schema.execution_context_class is ExecutionContext
    assert ("Media", "title") in plain_leaf_fields(app_schema._schema)


async def test_an_executed_operation_leaves_no_cycles_to_the_collector() -> None:
    """A request's executor, and all it reaches, is freed when the response is built rather than at
    the next collection: collections of thousands of such objects were pauses of several ms."""

    @strawberry.type
    class AsyncQuery:
        @strawberry.field
        async def items(self) -> list[Item | None]:
            return list(ITEMS[:2])

    schema = strawberry.Schema(query=AsyncQuery, execution_context_class=ExecutionContext)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            result = await schema.execute("{ items { name count shout } }")
            assert result.errors is None
        gc.collect()
        left = {f"{type(garbage).__module__}.{type(garbage).__qualname__}" for garbage in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    # (The parser's tokens are linked both ways, but the app parses a document once: gql/documents.py.)
    assert not left & {
        "gql.execution.ExecutionContext",
        "graphql.type.definition.GraphQLResolveInfoHelpers",
        "graphql.execution.collect_fields.FieldDetails",
    }
