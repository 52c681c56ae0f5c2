"""alerts: subjects flagged by alert rules for human review

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("window_end", sa.DateTime(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger_post_id", sa.Integer(), nullable=True),
        sa.Column("trigger_index", sa.Integer(), nullable=True),
        sa.Column("trigger_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["trigger_post_id"],
            ["posts.id"],
            name="fk_alerts_trigger_post_id_posts",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("dedup_key", name="uq_alerts_dedup_key"),
    )
    op.create_index("ix_alerts_rule_subject", "alerts", ["rule", "subject_kind", "subject"])
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_index("ix_alerts_trigger_at", "alerts", ["trigger_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_trigger_at", table_name="alerts")
    op.drop_index("ix_alerts_status", table_name="alerts")
    op.drop_index("ix_alerts_rule_subject", table_name="alerts")
    op.drop_table("alerts")
