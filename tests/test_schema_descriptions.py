"""The schema documents itself: every type, field, argument and input field the API serves (inputs and
payloads included) has a description. Enum values are described where their name does not say enough."""

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

from gql.schema import schema

BUILT_IN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def undescribed() -> set[str]:
    missing: set[str] = set()
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN_SCALARS:
            continue
        if not graphql_type.description:
            missing.add(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.add(f"{name}.{field_name}")
                missing |= {
                    f"{name}.{field_name}({arg_name})"
                    for arg_name, arg in field.args.items()
                    if not arg.description
                }
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing |= {
                f"{name}.{field_name}"
                for field_name, field in graphql_type.fields.items()
                if not field.description
            }
        else:
            assert isinstance(graphql_type, GraphQLEnumType | GraphQLScalarType | GraphQLUnionType)
    return missing


def test_every_type_field_argument_and_input_field_is_described() -> None:
    assert sorted(undescribed()) == []
