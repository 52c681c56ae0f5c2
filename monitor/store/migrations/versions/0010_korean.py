"""korean: which network read a scored post (language) and the Korean class probabilities

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("korean", sa.LargeBinary(), nullable=True))
    # Every post scored before this revision was read by the English network.
    op.execute("UPDATE scores SET language = 'en' WHERE status = 'scored'")


def downgrade() -> None:
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("korean")
        batch.drop_column("language")
