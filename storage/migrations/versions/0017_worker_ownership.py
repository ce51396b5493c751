"""workers own the rows they send; a Telegram retry_after shared by every worker (issue 22)

Revision ID: 0017
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The worker that claimed a row in ``sending``: a starting worker marks only its own earlier
    # rows, and those of workers known to be gone, ``unknown``.
    for table in ("deliveries", "outbox"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
    op.create_table(
        "send_rate_pauses",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("send_rate_pauses")
    for table in ("deliveries", "outbox"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("claimed_by")
