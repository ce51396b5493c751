"""participations (repeat answers, anonymous surveys) and the quiz score of a response

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participations",
        sa.Column("contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("survey_id", sa.String(length=40), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("last_completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "survey_id"),
    )
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("score", sa.Integer(), nullable=True))
    # Responses completed before this revision count as participations.
    op.execute(
        """
        INSERT INTO participations (contact_id, survey_id, completed, last_completed_at)
        SELECT contact_id, survey_id, COUNT(*), MAX(completed_at) FROM responses
        WHERE contact_id IS NOT NULL AND completed_at IS NOT NULL
        GROUP BY contact_id, survey_id
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("score")
    op.drop_table("participations")
