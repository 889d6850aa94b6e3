"""index auth.login_events by time, for pruning old sign-in history

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "idx_login_events_event_time", "login_events", ["event_time"], unique=False, schema="auth"
    )


def downgrade() -> None:
    op.drop_index("idx_login_events_event_time", table_name="login_events", schema="auth")
