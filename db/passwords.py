"""Password hashing (argon2id) and the password, email and username rules every account path applies.

Argon2id with m=19456 KiB, t=2, p=1 (32-byte hash, 16-byte salt): the OWASP Password Storage Cheat
Sheet minimum. Hashing runs in a worker thread so the event loop keeps serving other requests.
"""

import asyncio
import functools
import gzip
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

PASSWORD_HASHER = PasswordHasher(
    time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID
)

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,32}")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
EMAIL_MAX_LENGTH = 254
# Django's list (BSD licence): 20,000 passwords most often found in breaches.
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")


@dataclass(frozen=True)
class Problem:
    field: str
    code: str  # "invalid" | "weak_password"
    message: str


def normalize_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).strip().lower()


def normalize_login(login: str) -> str:
    """The key a sign-in attempt is recorded and throttled under: an email or a username, case-folded."""
    return unicodedata.normalize("NFKC", login).strip().lower()


@functools.cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def email_problem(email: str) -> Problem | None:
    if len(email) > EMAIL_MAX_LENGTH or not EMAIL_PATTERN.fullmatch(email):
        return Problem("email", "invalid", "Enter a valid email address")
    return None


def username_problem(username: str) -> Problem | None:
    if not USERNAME_PATTERN.fullmatch(username):
        return Problem("username", "invalid", "A username is 3 to 32 letters, digits, '_' or '-'")
    return None


def password_problem(password: str, field: str, *personal: str) -> Problem | None:
    """Why `password` may not be used, or None. `personal` holds the username and email it must not equal."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return Problem(field, "weak_password", f"Use at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        return Problem(field, "invalid", f"Use at most {PASSWORD_MAX_LENGTH} characters")
    folded = password.strip().lower()
    if folded in common_passwords():
        return Problem(field, "weak_password", "This password is too common")
    if any(
        folded == value.lower() or folded == value.lower().partition("@")[0] for value in personal if value
    ):
        return Problem(field, "weak_password", "The password must not be your username or email")
    return None


def registration_problems(email: str, username: str, password: str) -> list[Problem]:
    problems = [
        email_problem(email),
        username_problem(username),
        password_problem(password, "password", username, email),
    ]
    return [problem for problem in problems if problem is not None]


async def hash_password(password: str) -> str:
    def hash_in_slot() -> str:
        with _hashing_slots:
            return PASSWORD_HASHER.hash(password)

    return await asyncio.to_thread(hash_in_slot)


# Each hash holds 19 MiB while it runs: bound how many run at once so a burst of sign-ins cannot
# take more than a few dozen MiB on a small server.
_hashing_slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 1))

DUMMY_HASH = PASSWORD_HASHER.hash("a password nobody has, verified to spend the same time")


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no account (None) verify against a dummy hash so both take the same time."""

    def verify() -> bool:
        with _hashing_slots:
            try:
                matches = PASSWORD_HASHER.verify(password_hash or DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return False
        return matches and password_hash is not None

    return await asyncio.to_thread(verify)


def needs_rehash(password_hash: str) -> bool:
    return PASSWORD_HASHER.check_needs_rehash(password_hash)
