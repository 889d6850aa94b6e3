"""Secrets never reach a log line: every record is scrubbed of bearer secrets, Authorization values,
values of secret-looking keys, and the input values GraphQL error messages quote back.

A client's misspelt field (`pasword`) defeats any rule keyed on field names, so the values GraphQL
quotes ("Found: {...}", "got invalid value ...", the request's source lines) go as a whole.
"""

import logging
import re

REDACTED = "[REDACTED]"

_BEARER_SECRET = re.compile(r"\b(omt[sk]_)[A-Za-z0-9_\-]+")
_AUTHORIZATION = re.compile(r"(?i)\b(bearer|basic|token)(\s+)[^\s'\",;]+")
_SECRET_FIELD = re.compile(
    r"""(?ix)
    ( ["']? \b [\w-]* (?:pas+w|passwd|pwd|secret|token|authori[sz]ation|cookie|credential) [\w-]* ["']?
      \s* [:=] \s* )
    ( "(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*' | [^\s,;}&)\]]+ )
    """
)
# graphql-core quotes the offending value: "Found: {...}.", "found \"x\"", "got invalid value {...}",
# "cannot represent a non string value: 123".
_QUOTED_VALUE = re.compile(
    r"""(?i)(\bfound:?\s+(?=[\[{"'\d\-]|true|false|null)|(?<!invalid\ )\bvalue:\s*|\bgot\ invalid\ value\s+)[^\n]*"""
)
# The document excerpt graphql-core appends ("1 | mutation { login(input: {...}) }") holds inline literals.
_SOURCE_LINE = re.compile(r"(?m)^(\s*\d*\s*\|).*$")


def redact(text: str) -> str:
    text = _SOURCE_LINE.sub(r"\1 " + REDACTED, text)
    text = _QUOTED_VALUE.sub(r"\1" + REDACTED, text)
    text = _SECRET_FIELD.sub(r"\1" + REDACTED, text)
    text = _AUTHORIZATION.sub(r"\1\2" + REDACTED, text)
    return _BEARER_SECRET.sub(r"\1" + REDACTED, text)


class RedactSecrets(logging.Filter):
    """On a handler: the record's message and traceback are rendered once and scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
