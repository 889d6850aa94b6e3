"""Who is asking: the bearer credential of a request, resolved once in `get_context`."""

import uuid
from dataclasses import dataclass, field

from db.accounts import Credential, UserRow


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    role: str
    scopes: frozenset[str]
    session_id: uuid.UUID | None
    token_id: uuid.UUID | None
    user_row: UserRow | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and "ADMIN" in self.scopes

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @classmethod
    def from_credential(cls, credential: Credential) -> "Viewer":
        return cls(
            credential.user_id,
            credential.role,
            credential.scopes,
            credential.session_id,
            credential.token_id,
            credential.user_row,
        )


def bearer_secret(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()
