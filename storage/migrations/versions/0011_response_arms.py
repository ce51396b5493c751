"""the experiment arm of a response (issue 19: split-sample experiments)

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as table:
        table.add_column(sa.Column("arm", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as table:
        table.drop_column("arm")
