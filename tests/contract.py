"""The apps' operations, screen by screen: client-operations.graphql, copied verbatim from the contract."""

from pathlib import Path

from graphql import OperationDefinitionNode, parse, print_ast

DOCUMENT = parse((Path(__file__).resolve().parent / "client-operations.graphql").read_text())
OPERATIONS: dict[str, str] = {
    definition.name.value: print_ast(definition)
    for definition in DOCUMENT.definitions
    if isinstance(definition, OperationDefinitionNode) and definition.name is not None
}
