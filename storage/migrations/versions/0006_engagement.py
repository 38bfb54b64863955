"""Engagement: topic communities, reports from linked groups, consultations, events.

Created: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("region", sa.String(length=120), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("telegram_chat_id", sa.String(length=64), nullable=True),
        sa.Column("invite_link", sa.String(length=255), nullable=True),
        sa.Column("matrix_room_id", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community")),
        sa.UniqueConstraint("telegram_chat_id", name=op.f("uq_community_telegram_chat_id")),
    )
    op.create_table(
        "consultation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("share_results", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation")),
    )
    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consultation_closes_at"), ["closes_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_consultation_opens_at"), ["opens_at"], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "community_member",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_community_member_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_community_member_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_member")),
        sa.UniqueConstraint(
            "community_id", "person_id", name=op.f("uq_community_member_community_id")
        ),
    )
    with op.batch_alter_table("community_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_member_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_community_member_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "consultation_answer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "consultation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultation.id"],
            name=op.f("fk_consultation_answer_consultation_id_consultation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_consultation_answer_person_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_answer")),
        sa.UniqueConstraint(
            "consultation_id", "person_id", name=op.f("uq_consultation_answer_consultation_id")
        ),
    )
    with op.batch_alter_table("consultation_answer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_answer_consultation_id"), ["consultation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consultation_answer_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "event_registration",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reminded_day", sa.Boolean(), nullable=False),
        sa.Column("reminded_hour", sa.Boolean(), nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_registration_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_event_registration_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_registration")),
        sa.UniqueConstraint("event_id", "person_id", name=op.f("uq_event_registration_event_id")),
    )
    with op.batch_alter_table("event_registration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_registration_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_event_registration_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "group_report",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "community_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("reported_user", sa.String(length=64), nullable=False),
        sa.Column(
            "reporter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("handled_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_group_report_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["person.id"],
            name=op.f("fk_group_report_reporter_id_person"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_report")),
    )
    with op.batch_alter_table("group_report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_report_community_id"), ["community_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_group_report_reporter_id"), ["reporter_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("group_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_report_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_group_report_community_id"))

    op.drop_table("group_report")
    with op.batch_alter_table("event_registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_registration_person_id"))
        batch_op.drop_index(batch_op.f("ix_event_registration_event_id"))

    op.drop_table("event_registration")
    with op.batch_alter_table("consultation_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_answer_person_id"))
        batch_op.drop_index(batch_op.f("ix_consultation_answer_consultation_id"))

    op.drop_table("consultation_answer")
    with op.batch_alter_table("community_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_member_person_id"))
        batch_op.drop_index(batch_op.f("ix_community_member_community_id"))

    op.drop_table("community_member")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_starts_at"))

    op.drop_table("event")
    with op.batch_alter_table("consultation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_opens_at"))
        batch_op.drop_index(batch_op.f("ix_consultation_closes_at"))

    op.drop_table("consultation")
    op.drop_table("community")
