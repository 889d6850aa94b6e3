"""A page's cursors are encoded only when read: most screens ask for none."""

import pytest

from db.keyset import LazyCursors


def test_cursors_are_encoded_once_each_and_only_when_read() -> None:
    encoded: list[str] = []

    def encode(row: str) -> str:
        encoded.append(row)
        return f"cursor-{row}"

    cursors = LazyCursors(["a", "b", "c"], encode)
    assert len(cursors) == 3
    assert encoded == []
    assert cursors[-1] == "cursor-c"
    assert cursors[2] == "cursor-c"
    assert encoded == ["c"]
    assert list(cursors) == ["cursor-a", "cursor-b", "cursor-c"]
    assert cursors[:2] == ["cursor-a", "cursor-b"]
    assert encoded == ["c", "a", "b"]
    with pytest.raises(IndexError):
        cursors[3]
