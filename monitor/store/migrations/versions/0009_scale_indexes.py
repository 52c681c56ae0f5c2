"""scale indexes: posts by ingest time (the alerts window) and scores by scoring time (incremental alerts)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_posts_ingested_at", "posts", ["ingested_at", "created_at"])
    op.create_index("ix_scores_scored_at", "scores", ["scored_at"])


def downgrade() -> None:
    op.drop_index("ix_scores_scored_at", table_name="scores")
    op.drop_index("ix_posts_ingested_at", table_name="posts")
