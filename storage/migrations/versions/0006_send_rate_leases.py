"""worker leases of the send rate (PostgreSQL without Redis)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rate_leases",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("allowance", sa.Float(), nullable=False),
        sa.Column("renewed_at", sa.Float(), nullable=False),
        sa.Column("local_chats", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "worker"),
    )


def downgrade() -> None:
    op.drop_table("send_rate_leases")
