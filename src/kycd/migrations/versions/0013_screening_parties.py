"""screening hits on related parties

Revision ID: 0013_screening_parties
Revises: 0006_screening
Create Date: 2026-12-01 10:00:00.000000

A hit may be on one of the customer's related parties (``party_id``, the
party's name as screened in ``party_name``). The unique constraint over
(customer, list, entity) becomes two partial unique indexes: one for the
customer's own hits (``party_id IS NULL``), one for its parties' hits.
``party_id`` has no foreign key: a party's hits stay on record after the
party is removed. Nor does this revision depend on the organisation branch.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_screening_parties"
down_revision: str | Sequence[str] | None = "0006_screening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN_COLUMNS = ["tenant_id", "environment", "customer_id", "watchlist_id", "entity_id"]
PARTY_COLUMNS = ["tenant_id", "environment", "customer_id", "party_id", "watchlist_id", "entity_id"]


def upgrade() -> None:
    # Batch mode: SQLite drops a constraint by copying the table.
    with op.batch_alter_table("screening_hits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("party_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("party_name", sa.String(length=300), nullable=True))
        batch_op.drop_constraint("uq_screening_hits_entity", type_="unique")
        batch_op.create_index(batch_op.f("ix_screening_hits_party_id"), ["party_id"], unique=False)
        batch_op.create_index(
            "uq_screening_hits_customer_entity",
            OWN_COLUMNS,
            unique=True,
            sqlite_where=sa.text("party_id IS NULL"),
            postgresql_where=sa.text("party_id IS NULL"),
        )
        batch_op.create_index(
            "uq_screening_hits_party_entity",
            PARTY_COLUMNS,
            unique=True,
            sqlite_where=sa.text("party_id IS NOT NULL"),
            postgresql_where=sa.text("party_id IS NOT NULL"),
        )


def downgrade() -> None:
    # The old constraint cannot hold a party's hit beside the customer's own on
    # the same entity: the parties' hits go.
    op.execute("DELETE FROM screening_hits WHERE party_id IS NOT NULL")
    with op.batch_alter_table("screening_hits", schema=None) as batch_op:
        batch_op.drop_index("uq_screening_hits_party_entity")
        batch_op.drop_index("uq_screening_hits_customer_entity")
        batch_op.drop_index(batch_op.f("ix_screening_hits_party_id"))
        batch_op.create_unique_constraint("uq_screening_hits_entity", OWN_COLUMNS)
        batch_op.drop_column("party_name")
        batch_op.drop_column("party_id")
