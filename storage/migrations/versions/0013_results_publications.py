"""published survey results: one snapshot per publication (issue 20)

Revision ID: 0013
Revises: 0009 (the integrator rechains)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "results_publications",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("survey_id", sa.String(40), nullable=False),
        sa.Column("survey_version", sa.String(64), nullable=False),
        sa.Column("published_at", WHEN, nullable=False),
        sa.Column("published_by", sa.String(120), nullable=False),
        sa.Column("data_as_of", WHEN, nullable=True),
        sa.Column("respondents", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("withdrawn_at", WHEN, nullable=True),
        sa.Column("withdrawn_by", sa.String(120), nullable=True),
    )
    op.create_index("ix_results_publications_survey", "results_publications", ["survey_id", "published_at"])


def downgrade() -> None:
    op.drop_index("ix_results_publications_survey", table_name="results_publications")
    op.drop_table("results_publications")
