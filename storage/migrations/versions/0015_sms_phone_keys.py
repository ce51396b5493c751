"""SMS (issue 21): one phone key per person across phone channels, and the SMS menus

Revision ID: 0015
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from common.phones import PhoneNumberError, to_e164

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("contacts", sa.Column("phone_key", sa.String(20), nullable=True))
    op.create_index("ix_contacts_phone_key", "contacts", ["phone_key"])
    op.create_table(
        "sms_menus",
        sa.Column("contact_id", IdType, sa.ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("payloads", sa.Text(), nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    # WhatsApp ids are phone numbers: key the contacts already there, so that the same person
    # writing later by SMS is linked to them.
    connection = op.get_bind()
    contacts = sa.table("contacts", sa.column("id", sa.Integer), sa.column("channel"), sa.column("user_key"),
                        sa.column("phone_key"))  # fmt: skip
    rows = connection.execute(sa.select(contacts.c.id, contacts.c.user_key).where(contacts.c.channel == "whatsapp"))
    for contact_id, user_key in list(rows):
        try:
            phone = to_e164(user_key)
        except PhoneNumberError:
            continue
        connection.execute(sa.update(contacts).where(contacts.c.id == contact_id).values(phone_key=phone))


def downgrade() -> None:
    op.drop_table("sms_menus")
    op.drop_index("ix_contacts_phone_key", table_name="contacts")
    op.drop_column("contacts", "phone_key")
