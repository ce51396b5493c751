""""you said, we did": who asked, at the end of a survey, to hear what the office does with the results;
indexes for the engagement figures (issue 20)

Revision ID: 0014
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0016"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "results_optins",
        sa.Column("survey_id", sa.String(40), primary_key=True),
        sa.Column("contact_id", IdType, sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("response_id", sa.String(36), sa.ForeignKey("responses.id", ondelete="SET NULL"), nullable=True),
        sa.Column("wants", sa.Integer(), nullable=False),
        sa.Column("answered_at", WHEN, nullable=False),
    )
    # The engagement figures (storage/engagement.py) read responses by completion time and data
    # requests by answer time, month by month.
    op.create_index("ix_responses_survey_completed", "responses", ["survey_id", "completed_at"])
    op.create_index("ix_data_requests_answered", "data_requests", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_data_requests_answered", table_name="data_requests")
    op.drop_index("ix_responses_survey_completed", table_name="responses")
    op.drop_table("results_optins")
