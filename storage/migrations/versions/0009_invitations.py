"""survey invitations and their reminders (issue 19)

Revision ID: 0009
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("survey_id", sa.String(40), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("contact_id", IdType, sa.ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("user_group", sa.String(40), nullable=True),
        sa.Column("stratum", sa.String(200), nullable=True),
        sa.Column("invited_at", WHEN, nullable=False),
        sa.Column("broadcast_id", IdType, sa.ForeignKey("broadcasts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("arm", sa.String(40), nullable=True),
        sa.Column("quota_cell", sa.String(200), nullable=True),
        sa.UniqueConstraint("survey_id", "wave", "contact_id", name="uq_invitations_survey_wave_contact"),
    )
    op.create_index("ix_invitations_survey_invited", "invitations", ["survey_id", "invited_at"])
    op.create_table(
        "invitation_reminders",
        sa.Column("invitation_id", IdType, sa.ForeignKey("invitations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("reminder", sa.Integer(), primary_key=True),
        sa.Column("broadcast_id", IdType, sa.ForeignKey("broadcasts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("queued_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("invitation_reminders")
    op.drop_index("ix_invitations_survey_invited", table_name="invitations")
    op.drop_table("invitations")
