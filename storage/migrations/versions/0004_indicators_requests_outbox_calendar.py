"""indicator catalogue (loads, indicators, series, observations, queries, ratings), data requests,
the outbox for messages to one person, release calendar follows and publications; the shared
send-rate buckets of several workers, and the chat of each processed update

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Delivery receipts reported by the channel (WhatsApp statuses: delivered, read).
    op.add_column("deliveries", sa.Column("delivered_at", WHEN, nullable=True))
    op.add_column("deliveries", sa.Column("read_at", WHEN, nullable=True))
    op.create_index("ix_deliveries_message_key", "deliveries", ["message_key"])
    op.create_table(
        "send_rate_buckets",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_send_rate_buckets_updated_at", "send_rate_buckets", ["updated_at"])
    with op.batch_alter_table("processed_updates") as batch_op:
        batch_op.add_column(sa.Column("chat_key", sa.String(length=100), nullable=True))
        batch_op.create_index("ix_processed_updates_chat", ["channel", "chat_key", "processed_at"])
    op.create_table(
        "indicator_loads",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.Column("indicators", sa.Integer(), nullable=False),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_indicator_loads_status", "indicator_loads", ["status"])
    op.create_table(
        "indicators",
        sa.Column("load_id", ID, nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=True),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["indicator_loads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("load_id", "code"),
    )
    op.create_table(
        "indicator_series",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("load_id", ID, nullable=False),
        sa.Column("indicator_code", sa.String(length=80), nullable=False),
        sa.Column("series_key", sa.String(length=400), nullable=False),
        sa.Column("dimensions_json", sa.Text(), nullable=False),
        sa.Column("attributes_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["indicator_loads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_indicator_series_load_indicator", "indicator_series", ["load_id", "indicator_code"])
    op.create_table(
        "indicator_observations",
        sa.Column("series_id", ID, nullable=False),
        sa.Column("time_period", sa.String(length=30), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=True),
        # no foreign key to indicator_series: see IndicatorObservationRow in storage/models.py
        sa.PrimaryKeyConstraint("series_id", "time_period"),
    )
    op.create_table(
        "indicator_queries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("indicator_code", sa.String(length=80), nullable=True),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("asked_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_indicator_queries_contact_id", "indicator_queries", ["contact_id"])
    op.create_index("ix_indicator_queries_asked_at", "indicator_queries", ["asked_at"])
    op.create_table(
        "indicator_ratings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("indicator_code", sa.String(length=80), nullable=False),
        sa.Column("series_key", sa.String(length=400), nullable=False),
        sa.Column("useful", sa.Integer(), nullable=False),
        sa.Column("rated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "indicator_code", "series_key", name="uq_indicator_ratings"),
    )
    op.create_table(
        "data_requests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("user_group", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("assigned_to", sa.String(length=100), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("answered_at", WHEN, nullable=True),
        sa.Column("closed_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_data_requests_contact_id", "data_requests", ["contact_id"])
    op.create_index("ix_data_requests_status", "data_requests", ["status"])
    op.create_table(
        "data_request_messages",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("request_id", ID, nullable=False),
        sa.Column("author", sa.String(length=10), nullable=False),
        sa.Column("staff", sa.String(length=100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["data_requests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_data_request_messages_request_id", "data_request_messages", ["request_id"])
    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("contact_id", ID, nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("chat_key", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("claimed_at", WHEN, nullable=True),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("message_key", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_status", "outbox", ["status", "id"])
    op.create_index("ix_outbox_contact_id", "outbox", ["contact_id"])
    op.create_table(
        "release_follows",
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("release_id", sa.String(length=80), nullable=False),
        sa.Column("followed_at", WHEN, nullable=False),
        sa.Column("notified_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "release_id"),
    )
    op.create_index("ix_release_follows_release_id", "release_follows", ["release_id"])
    op.create_table(
        "release_publications",
        sa.Column("release_id", sa.String(length=80), nullable=False),
        sa.Column("published_at", WHEN, nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.Column("broadcast_id", ID, nullable=True),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("release_id"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_message_key", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("read_at")
        batch.drop_column("delivered_at")
    op.drop_table("release_publications")
    op.drop_index("ix_release_follows_release_id", table_name="release_follows")
    op.drop_table("release_follows")
    op.drop_index("ix_outbox_contact_id", table_name="outbox")
    op.drop_index("ix_outbox_status", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_data_request_messages_request_id", table_name="data_request_messages")
    op.drop_table("data_request_messages")
    op.drop_index("ix_data_requests_status", table_name="data_requests")
    op.drop_index("ix_data_requests_contact_id", table_name="data_requests")
    op.drop_table("data_requests")
    op.drop_table("indicator_ratings")
    op.drop_index("ix_indicator_queries_asked_at", table_name="indicator_queries")
    op.drop_index("ix_indicator_queries_contact_id", table_name="indicator_queries")
    op.drop_table("indicator_queries")
    op.drop_table("indicator_observations")
    op.drop_index("ix_indicator_series_load_indicator", table_name="indicator_series")
    op.drop_table("indicator_series")
    op.drop_table("indicators")
    op.drop_index("ix_indicator_loads_status", table_name="indicator_loads")
    op.drop_table("indicator_loads")
    op.drop_index("ix_send_rate_buckets_updated_at", table_name="send_rate_buckets")
    op.drop_table("send_rate_buckets")
    with op.batch_alter_table("processed_updates") as batch_op:
        batch_op.drop_index("ix_processed_updates_chat")
        batch_op.drop_column("chat_key")
