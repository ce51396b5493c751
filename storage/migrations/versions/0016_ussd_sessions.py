"""USSD sessions: the last screen shown to each phone number (issue 21)

Revision ID: 0016
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ussd_sessions",
        sa.Column("phone", sa.String(32), primary_key=True),
        sa.Column("session_id", sa.String(100), nullable=False),
        sa.Column("inputs", sa.Integer(), nullable=False),
        sa.Column("screen", sa.Text(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("ended", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ussd_sessions")
