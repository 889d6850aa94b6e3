"""Per-request state that must reach code running outside the resolver call chain (logging, SQL events)."""

import contextvars

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("current_request_id", default="-")
