"""survey quotas: each response's quota cells, and screened-out responses (issue 19, item 3)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("responses", sa.Column("screened_out_at", WHEN, nullable=True))
    op.create_table(
        "response_quota_cells",
        sa.Column(
            "response_id", sa.String(36), sa.ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("quota", sa.String(200), primary_key=True),
        sa.Column("survey_id", sa.String(40), nullable=False),
        sa.Column("cell", sa.String(400), nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
    )
    op.create_index("ix_response_quota_cells_survey", "response_quota_cells", ["survey_id", "quota", "cell"])


def downgrade() -> None:
    op.drop_index("ix_response_quota_cells_survey", table_name="response_quota_cells")
    op.drop_table("response_quota_cells")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("screened_out_at")
