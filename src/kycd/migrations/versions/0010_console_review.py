"""console review queue assignments

Revision ID: 0010_console_review
Revises: 0001_foundation
Create Date: 2026-11-23 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kycd.db

revision: str = "0010_console_review"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_review_assignments",
        sa.Column("step_id", sa.String(length=36), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("assigned_at", kycd.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("step_id"),
    )
    with op.batch_alter_table("console_review_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_review_assignments_operator", ["operator_id"], unique=False)
        batch_op.create_index(
            "ix_console_review_assignments_tenant_id", ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("console_review_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_console_review_assignments_tenant_id")
        batch_op.drop_index("ix_review_assignments_operator")
    op.drop_table("console_review_assignments")
