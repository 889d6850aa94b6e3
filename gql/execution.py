"""The execution context of the schema: graphql-core's, with a short path for plain leaf fields.

Most fields of a response are scalars read from an attribute (`title`, `name`): strawberry gives
them a resolver that ignores its `info`, yet graphql-core builds a resolve info, checks twice for an
awaitable and walks `complete_value` for each of them. Here such a field is read and coerced
directly; any other outcome (an error, a null for a non-null field, a value the scalar refuses)
takes graphql-core's own path, which reports it as it always does. Only the built-in scalars and
enums qualify: they refuse what graphql-core would treat specially (an exception, an awaitable),
where a custom scalar such as JSON might pass it through.
"""

from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLSchema,
    get_nullable_type,
    is_enum_type,
    is_non_null_type,
    is_object_type,
    specified_scalar_types,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# (type name, field name) -> the field's resolver, its scalar or enum type, whether it may be null
LeafFields = dict[tuple[str, str], tuple[Any, GraphQLLeafType, bool]]

_leaf_fields: WeakKeyDictionary[GraphQLSchema, LeafFields] = WeakKeyDictionary()


def plain_leaf_fields(schema: GraphQLSchema) -> LeafFields:
    """The fields that read a built-in scalar or an enum from an attribute: strawberry fields without
    a resolver, extensions or arguments."""
    found = _leaf_fields.get(schema)
    if found is None:
        found = {}
        for type_name, named_type in schema.type_map.items():
            if not is_object_type(named_type) or type_name.startswith("__"):
                continue
            assert isinstance(named_type, GraphQLObjectType)
            for field_name, field in named_type.fields.items():
                leaf = _plain_leaf(field)
                if leaf is not None:
                    found[type_name, field_name] = (field.resolve, leaf, not is_non_null_type(field.type))
        _leaf_fields[schema] = found
    return found


def _plain_leaf(field: GraphQLField) -> GraphQLLeafType | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field or field.args:
        return None
    if getattr(field.resolve, "__name__", None) != "_get_basic_result":
        return None
    leaf = get_nullable_type(field.type)
    if is_enum_type(leaf) or any(leaf is scalar for scalar in specified_scalar_types.values()):
        return leaf  # type: ignore[return-value]
    return None


class ExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Also: graphql-core's executor refers to itself (its `async_helpers` hold two of its bound
    methods), so every request left its executor, and all that it reaches, to the cycle collector;
    the reference is dropped once the response is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaf_fields = plain_leaf_fields(self.schema)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        leaf = self.leaf_fields.get((parent_type.name, field_details_list[0].node.name.value))
        if leaf is not None:
            resolve, leaf_type, nullable = leaf
            try:
                raw = resolve(source, None)
                if raw is None:
                    if nullable:
                        return None
                else:
                    value = leaf_type.coerce_output_value(raw)
                    if value is not None and value is not Undefined:
                        return value
            except Exception:  # noqa: S110 - graphql-core's path below reports it
                pass
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):  # not incremental delivery, which goes on from here
            self.async_helpers = None  # type: ignore[assignment]
        return response
