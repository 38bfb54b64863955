"""Brokerage: contact details of profiles and challenges, the match lifecycle, endorsements.

Created: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MATCH_TIMES = ("notified_at", "answered_at", "owner_intro_at", "introduced_at", "outcome_asked_at")


def upgrade() -> None:
    op.create_table(
        "endorsement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idea_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("follow", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["idea.id"], name=op.f("fk_endorsement_idea_id_idea"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_endorsement_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsement")),
        sa.UniqueConstraint("idea_id", "person_id", name=op.f("uq_endorsement_idea_id")),
    )
    op.create_index(op.f("ix_endorsement_idea_id"), "endorsement", ["idea_id"])
    op.create_index(op.f("ix_endorsement_person_id"), "endorsement", ["person_id"])

    for table in ("solution_profile", "infrastructure_profile", "challenge"):
        op.add_column(table, sa.Column("contact", sa.String(length=300), nullable=True))

    for name in MATCH_TIMES:
        op.add_column("match", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column("match", sa.Column("outcome_by", sa.String(length=255), nullable=True))
    op.create_index(op.f("ix_match_introduced_at"), "match", ["introduced_at"])
    op.create_index("ix_match_item", "match", ["item_kind", "item_id"])


def downgrade() -> None:
    with op.batch_alter_table("match") as batch_op:
        batch_op.drop_index("ix_match_item")
        batch_op.drop_index(batch_op.f("ix_match_introduced_at"))
        batch_op.drop_column("outcome_by")
        for name in reversed(MATCH_TIMES):
            batch_op.drop_column(name)
    for table in ("challenge", "infrastructure_profile", "solution_profile"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("contact")
    op.drop_index(op.f("ix_endorsement_person_id"), table_name="endorsement")
    op.drop_index(op.f("ix_endorsement_idea_id"), table_name="endorsement")
    op.drop_table("endorsement")
