"""Who set each catalog field, and which source may change it (docs/ingestion.md, Provenance).

`media.field_sources` maps a field name ("title", "release_date", "attributes.<key>", ...) to its
source: "admin", "feed:<source name>" or "legacy" (values stored before provenance existed). The
entry "*" stands for every field without an entry of its own: the creator of the item.

A feed may set a field when it is not an admin's, and the field is empty, or the feed already
owns it, or the feed ranks above the owner in the configured precedence. Equal values never change
hands, so re-running a feed writes nothing.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ADMIN = "admin"
LEGACY = "legacy"
EVERY_FIELD = "*"
FEED_PREFIX = "feed:"
ATTRIBUTE_PREFIX = "attributes."


def feed(source_name: str) -> str:
    return FEED_PREFIX + source_name


def source_of(sources: Mapping[str, str], name: str) -> str:
    return sources.get(name) or sources.get(EVERY_FIELD) or LEGACY


@dataclass(frozen=True)
class Precedence:
    """Feed names, highest first. Unlisted feeds (and "legacy", unless listed) rank below every
    listed one and equal to each other: an unlisted feed never takes a field from another source."""

    order: tuple[str, ...] = ()

    def rank(self, source: str) -> int:
        name = source.removeprefix(FEED_PREFIX)
        return len(self.order) - self.order.index(name) if name in self.order else 0

    def may_take(self, incoming: str, owner: str) -> bool:
        return owner == incoming or (owner != ADMIN and self.rank(incoming) > self.rank(owner))


@dataclass(frozen=True)
class FieldEvent:
    """One field a record would change ("changed") or may not change ("kept", with its owner)."""

    name: str
    outcome: str
    before: Any
    after: Any
    owner: str


@dataclass
class ItemMerge:
    """An item's stored fields while the records of a batch are applied to it in file order."""

    values: dict[str, Any]
    sources: dict[str, str]
    before: dict[str, Any] = field(default_factory=dict)
    changed: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    events: list[tuple[int, FieldEvent]] | None = None

    def apply(self, line: int, fields: Mapping[str, Any], incoming: str, precedence: Precedence) -> None:
        for name, value in fields.items():
            if name == "release_date_precision":
                continue
            if name == "attributes":
                self._apply_attributes(line, value, incoming, precedence)
            elif name == "release_date":
                pair = (value, fields.get("release_date_precision", "day"))
                current = (self.values["release_date"], self.values["release_date_precision"])
                if self._may_set(line, name, current, pair, current[0] is None, incoming, precedence):
                    self._remember("release_date")
                    self._remember("release_date_precision")
                    self.values["release_date"], self.values["release_date_precision"] = pair
            else:
                current = self.values[name]
                if self._may_set(line, name, current, value, _empty(current), incoming, precedence):
                    self._remember(name)
                    self.values[name] = value

    def _apply_attributes(
        self, line: int, given: Mapping[str, Any], incoming: str, precedence: Precedence
    ) -> None:
        attributes = self.values["attributes"]
        for key, value in given.items():
            current = attributes.get(key)
            if self._may_set(
                line, ATTRIBUTE_PREFIX + key, current, value, current is None, incoming, precedence
            ):
                if "attributes" not in self.before:
                    self.before["attributes"] = dict(attributes)
                    attributes = self.values["attributes"] = dict(attributes)
                if value is None:
                    attributes.pop(key, None)
                else:
                    attributes[key] = value

    def _may_set(
        self,
        line: int,
        name: str,
        current: Any,
        value: Any,
        empty: bool,
        incoming: str,
        precedence: Precedence,
    ) -> bool:
        if value == current:
            return False
        owner = source_of(self.sources, name)
        if owner == ADMIN or not (empty or precedence.may_take(incoming, owner)):
            self.kept[name] += 1
            if self.events is not None:
                self.events.append((line, FieldEvent(name, "kept", current, value, owner)))
            return False
        if owner != incoming:
            self.sources[name] = incoming
        self.changed[name] += 1
        if self.events is not None:
            self.events.append((line, FieldEvent(name, "changed", current, value, owner)))
        return True

    def _remember(self, name: str) -> None:
        self.before.setdefault(name, self.values[name])


def _empty(value: Any) -> bool:
    return value is None or value == []


def admin_sources(
    sources: Mapping[str, str], before: Mapping[str, Any], after: Mapping[str, Any]
) -> dict[str, str]:
    """`sources` after an admin changed the fields of `after` (from `before`): those fields, and
    each attribute key added, changed or removed, are the admin's from now on."""
    updated = dict(sources)
    for name, value in after.items():
        if name == "attributes":
            old = before.get("attributes") or {}
            for key in set(old) | set(value or {}):
                if old.get(key) != (value or {}).get(key):
                    updated[ATTRIBUTE_PREFIX + key] = ADMIN
        elif name == "release_date_precision":
            updated["release_date"] = ADMIN
        else:
            updated[name] = ADMIN
    return updated
