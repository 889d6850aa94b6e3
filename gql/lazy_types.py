"""Type modules that refer to each other (Media and TrackingEntry, User and its lists): one side
names the other's types with `strawberry.lazy` annotations, and builds the other's objects through
the same annotation with `lazy_class`, which imports that module on first use."""

import functools
import typing
from typing import Any, ForwardRef


@functools.cache
def lazy_class(annotation: Any) -> type[Any]:
    """The class an `Annotated["Name", strawberry.lazy("module")]` annotation stands for."""
    name, reference = typing.get_args(annotation)
    forward_ref = name if isinstance(name, ForwardRef) else ForwardRef(name)
    resolved: type[Any] = reference.resolve_forward_ref(forward_ref).resolve_type()
    return resolved
