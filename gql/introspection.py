"""With OMT_INTROSPECTION off (the production default) the schema is not introspectable and error
messages carry no hints about it ("Did you mean ...?"); clients use the committed schema.graphql."""

import re
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

SCHEMA_HINT = re.compile(r"\s*Did you mean [^?]*\?")


class HideSchemaHints(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors if result is not None else None) or ():
            error.message = SCHEMA_HINT.sub("", error.message)
