"""Matrix moderation state: adapter key-values (sync token), triage cards, handled events.

Created: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adapter_state",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_adapter_state")),
    )
    op.create_table(
        "handled_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handled_event")),
        sa.UniqueConstraint("platform", "event_id", name=op.f("uq_handled_event_platform")),
    )
    op.create_index(op.f("ix_handled_event_created_at"), "handled_event", ["created_at"])
    op.create_table(
        "moderation_card",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_card")),
        sa.UniqueConstraint("room_id", "event_id", name=op.f("uq_moderation_card_room_id")),
    )
    op.create_index("ix_moderation_card_item", "moderation_card", ["item_kind", "item_id"])


def downgrade() -> None:
    op.drop_table("moderation_card")
    op.drop_table("handled_event")
    op.drop_table("adapter_state")
