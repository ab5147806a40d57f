"""hosted

Revision ID: 0011_hosted
Revises: 0001_foundation
Create Date: 2026-11-23 00:03:27.812179
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kycd.db

revision: str = "0011_hosted"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
# hosted_fingerprints refers to client_documents, created by the lifecycle branch.
depends_on: str | Sequence[str] | None = ("0002_lifecycle",)


def upgrade() -> None:
    op.create_table(
        "hosted_check_results",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("step_kind", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=16), nullable=True),
        sa.Column("document_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", kycd.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["verification_sessions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hosted_check_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hosted_check_results_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hosted_check_results_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_hosted_checks_session", ["session_id", "step_kind", "created_at"], unique=False
        )

    op.create_table(
        "hosted_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("given_at", kycd.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["verification_sessions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", name="uq_hosted_consents_session"),
    )
    with op.batch_alter_table("hosted_consents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hosted_consents_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hosted_consents_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "hosted_fingerprints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("created_at", kycd.db.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["client_documents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("hosted_fingerprints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hosted_fingerprints_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_hosted_fingerprints_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "ix_hosted_fingerprints_value",
            ["tenant_id", "environment", "kind", "value"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("hosted_fingerprints", schema=None) as batch_op:
        batch_op.drop_index("ix_hosted_fingerprints_value")
        batch_op.drop_index(batch_op.f("ix_hosted_fingerprints_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_hosted_fingerprints_customer_id"))

    op.drop_table("hosted_fingerprints")
    with op.batch_alter_table("hosted_consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hosted_consents_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_hosted_consents_customer_id"))

    op.drop_table("hosted_consents")
    with op.batch_alter_table("hosted_check_results", schema=None) as batch_op:
        batch_op.drop_index("ix_hosted_checks_session")
        batch_op.drop_index(batch_op.f("ix_hosted_check_results_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_hosted_check_results_customer_id"))

    op.drop_table("hosted_check_results")
