"""Native polls innobot sent (Telegram), so that their answers reach the consultation.

Created: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_poll",
        sa.Column("poll_id", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("poll_id", name=op.f("pk_chat_poll")),
    )
    with op.batch_alter_table("chat_poll", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_poll_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_poll_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chat_poll", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_poll_subject"))
        batch_op.drop_index(batch_op.f("ix_chat_poll_chat_id"))
    op.drop_table("chat_poll")
