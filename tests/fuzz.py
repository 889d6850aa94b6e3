"""Hypothesis strategies over the schema: whole documents (hypothesis-graphql, values inline) and
variables for the apps' operations (written here from the variable definitions' types). Strings
include NUL and unpaired surrogates; numbers go past int32; values are sometimes of the wrong type."""

import datetime as dt
import string
from typing import Any

import hypothesis_graphql
from graphql import (
    BooleanValueNode,
    FloatValueNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    ListValueNode,
    NameNode,
    NullValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
)
from hypothesis import strategies as st

from gql.relay import to_global_id

INT32 = 2**31
UNSTORABLE = ["\x00", "\ud800", "\udfff", "a\x00b", "x\udc00y"]
NAMES = st.text(string.ascii_letters + "_", min_size=1, max_size=6)

texts = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.sampled_from(UNSTORABLE),
    st.sampled_from(["", "dune", "written.book", "a" * 300, "2024-02-30", "9999-12-31T23:59:59-14:00"]),
)
integers = st.one_of(
    st.integers(-1000, 1000),
    st.sampled_from([INT32 - 1, INT32, -INT32 - 1, 2**63, 10**20]),
    st.integers(),
)
json_values = st.recursive(
    st.none() | st.booleans() | integers | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=12,
)
dates = st.one_of(st.dates().map(dt.date.isoformat), texts)
datetimes = st.one_of(
    st.datetimes(timezones=st.timezones() | st.none()).map(dt.datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "2024-01-01T00:00:00+25:00", "0000-00-00T00:00:00Z"]),
    texts,
)


def ids(type_names: list[str]) -> st.SearchStrategy[str]:
    known = st.builds(lambda name, key: str(to_global_id(name, key)), st.sampled_from(type_names), st.uuids())
    return st.one_of(known, texts)


def json_node(value: Any) -> ValueNode:
    """A JSON value as a GraphQL literal (object keys made into names)."""
    if value is None:
        return NullValueNode()
    if isinstance(value, bool):
        return BooleanValueNode(value=value)
    if isinstance(value, int):
        return IntValueNode(value=str(value))
    if isinstance(value, float):
        return FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return StringValueNode(value=value)
    if isinstance(value, list):
        return ListValueNode(values=tuple(json_node(item) for item in value))
    fields = {
        "".join(c for c in key if c.isascii() and (c.isalnum() or c == "_")).lstrip("0123456789") or "k": item
        for key, item in value.items()
    }
    return ObjectValueNode(
        fields=tuple(
            ObjectFieldNode(name=NameNode(value=key), value=json_node(item)) for key, item in fields.items()
        )
    )


CUSTOM_SCALARS: dict[str, st.SearchStrategy[ValueNode]] = {
    "Date": dates.map(lambda value: StringValueNode(value=value)),
    "DateTime": datetimes.map(lambda value: StringValueNode(value=value)),
    "JSON": json_values.map(json_node),
    "ID": ids(["Media", "User", "UserList"]).map(lambda value: StringValueNode(value=value)),
    # A file arrives only through a multipart request; in a document it can only be something else.
    "Upload": texts.map(lambda value: StringValueNode(value=value)),
}


def documents(schema: str | GraphQLSchema, mode: hypothesis_graphql.Mode) -> st.SearchStrategy[Any]:
    return hypothesis_graphql.from_schema(
        schema, custom_scalars=CUSTOM_SCALARS, allow_x00=True, codec=None, mode=mode
    )


def scalar_values(type_: GraphQLScalarType) -> st.SearchStrategy[Any]:
    by_name: dict[str, st.SearchStrategy[Any]] = {
        "Int": integers,
        "Float": st.floats(allow_nan=False, allow_infinity=False) | integers,
        "String": texts,
        "Boolean": st.booleans(),
        "ID": ids(["Media", "User", "UserList"]),
        "Date": dates,
        "DateTime": datetimes,
        "JSON": json_values,
    }
    return by_name.get(type_.name, json_values)


def variable_values(type_: GraphQLInputType, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly values of `type_`; sometimes null or any JSON value at all."""
    wrong = st.none() | json_values
    if isinstance(type_, GraphQLNonNull):
        return st.one_of(variable_values(type_.of_type, depth), wrong)
    if isinstance(type_, GraphQLList):
        item = variable_values(type_.of_type, depth + 1)
        return st.one_of(st.lists(item, max_size=3), item, st.none())
    if isinstance(type_, GraphQLEnumType):
        return st.one_of(st.sampled_from(list(type_.values)), texts, st.none())
    if isinstance(type_, GraphQLInputObjectType):
        if depth > 3:
            return st.none()
        fields = {name: variable_values(field.type, depth + 1) for name, field in type_.fields.items()}
        known = st.fixed_dictionaries({}, optional=fields)
        with_unknown = st.builds(lambda given, key, value: {**given, key: value}, known, NAMES, json_values)
        return st.one_of(known, known, with_unknown, st.none())
    assert isinstance(type_, GraphQLScalarType)
    return st.one_of(scalar_values(type_), scalar_values(type_), wrong)
