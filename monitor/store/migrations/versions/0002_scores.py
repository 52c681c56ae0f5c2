"""scores: per post and model version, head probabilities, depression index and status

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scores",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("depression_index", sa.Float(), nullable=True),
        sa.Column("probs", sa.LargeBinary(), nullable=True),
        sa.Column("windows", sa.SmallInteger(), nullable=False),
        sa.Column("text_hash", sa.String(8), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_scores_post_id_posts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "model_version", name="pk_scores"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("scores")
