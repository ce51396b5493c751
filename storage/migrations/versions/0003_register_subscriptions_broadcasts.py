"""contacts register, subscriptions, broadcasts with one delivery row per recipient, feedback

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("consent_at", WHEN, nullable=True))
        batch.add_column(sa.Column("declined_at", WHEN, nullable=True))
        batch.add_column(sa.Column("user_group", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("region", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("organisation", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("opted_out_at", WHEN, nullable=True))
        batch.add_column(sa.Column("blocked_at", WHEN, nullable=True))
    op.create_table(
        "subscriptions",
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("subscribed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "topic"),
    )
    op.create_index("ix_subscriptions_topic", "subscriptions", ["topic", "contact_id"])
    op.create_table(
        "broadcasts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("send_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("broadcast_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("chat_key", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", WHEN, nullable=True),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("message_key", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broadcast_id", "contact_id", name="uq_deliveries_broadcast_contact"),
    )
    op.create_index("ix_deliveries_broadcast_status", "deliveries", ["broadcast_id", "status", "id"])
    op.create_table(
        "feedback",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("broadcast_id", ID, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feedback_contact_id", "feedback", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_contact_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_deliveries_broadcast_status", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("broadcasts")
    op.drop_index("ix_subscriptions_topic", table_name="subscriptions")
    op.drop_table("subscriptions")
    with op.batch_alter_table("contacts") as batch:
        for column in ("blocked_at", "opted_out_at", "organisation", "region", "user_group", "declined_at", "consent_at"):
            batch.drop_column(column)
