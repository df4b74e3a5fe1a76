"""console sessions: each sign-in to the operator console, so that signing out ends it

A console cookie names its session; the session is live while its row is neither ended nor
expired (and its key still authenticates). Signing out ends the row: a copy of the cookie is
worth nothing afterwards.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import propbridge.db.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("api_key_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", propbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_console_sessions_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_console_sessions_expires_at")
    op.drop_table("console_sessions")
