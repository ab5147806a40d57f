"""compliance: the stored answer of the status read

Revision ID: 0012_compliance_answer
Revises: 0008_compliance
Create Date: 2026-11-23 01:45:00

Existing rows get NULLs and are read as misses: the first read (or the sweep)
evaluates them and stores their answer.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kycd.db

revision: str = "0012_compliance_answer"
down_revision: str | Sequence[str] | None = "0008_compliance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("compliance_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_json", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("valid_until", kycd.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("policy_fingerprint", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_compliance_status_valid_until", ["valid_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("compliance_status", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_status_valid_until")
        batch_op.drop_column("policy_fingerprint")
        batch_op.drop_column("valid_until")
        batch_op.drop_column("data_json")
