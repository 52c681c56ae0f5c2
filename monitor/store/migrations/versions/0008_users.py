"""users and verdicts: reviewers' accounts for `emomon serve`, and the verdict recorded when an alert is resolved

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    with op.batch_alter_table("alert_actions") as batch:
        batch.add_column(sa.Column("verdict", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_actions") as batch:
        batch.drop_column("verdict")
    op.drop_table("users")
