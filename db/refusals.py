"""Expected refusals of a command. A command raises `Refused` before or inside its one transaction, so
nothing it began is kept. Fields are paths of snake_case argument names; the API layer translates them
into its own names. Refusal codes are the one vocabulary of why a write was refused."""

from dataclasses import dataclass
from enum import Enum


class RefusalCode(Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    CONFLICT = "CONFLICT"
    TAKEN = "TAKEN"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    WEAK_PASSWORD = "WEAK_PASSWORD"


# A message that names its field says FIELD where the API layer writes the field's path in its own
# spelling ("{field} must not be empty" -> "coverUrl must not be empty").
FIELD = "{field}"


@dataclass(frozen=True)
class Refusal:
    code: RefusalCode
    message: str
    field: tuple[str, ...] = ()
    # RATE_LIMITED only: when to try again.
    retry_after_seconds: int | None = None
    # A path inside the JSON value at `field` (keys and indexes of the data, kept as they are).
    within: tuple[str, ...] = ()


class Refused(Exception):
    """One or more reasons a command changed nothing."""

    def __init__(self, *refusals: Refusal) -> None:
        super().__init__("; ".join(refusal.message for refusal in refusals))
        self.refusals = refusals


def refused(code: RefusalCode, message: str, *field: str) -> Refused:
    return Refused(Refusal(code, message, field))


def invalid(message: str, *field: str) -> Refused:
    return refused(RefusalCode.INVALID, message, *field)


def not_found(what: str, *field: str) -> Refused:
    """An object that does not exist or is not the caller's: the two look the same."""
    return refused(RefusalCode.NOT_FOUND, f"No such {what}", *field)
