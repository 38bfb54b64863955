"""Alerts: subscription schedules and stops, challenge alerts, alert tasks, scheduler jobs,
outbox claims.

Created: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduler_job",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_job")),
    )
    with op.batch_alter_table("scheduler_job", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduler_job_next_run_time"), ["next_run_time"], unique=False
        )

    op.create_table(
        "alert_task",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "challenge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenge.id"],
            name=op.f("fk_alert_task_challenge_id_challenge"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_task")),
        sa.UniqueConstraint("kind", "challenge_id", name=op.f("uq_alert_task_kind")),
    )
    with op.batch_alter_table("alert_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_task_done_at"), ["done_at"], unique=False)

    op.create_table(
        "challenge_alert",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "challenge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "subscription_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["challenge.id"],
            name=op.f("fk_challenge_alert_challenge_id_challenge"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_challenge_alert_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscription.id"],
            name=op.f("fk_challenge_alert_subscription_id_subscription"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_alert")),
        sa.UniqueConstraint(
            "person_id", "challenge_id", "kind", name=op.f("uq_challenge_alert_person_id")
        ),
    )
    with op.batch_alter_table("challenge_alert", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_challenge_alert_challenge_id"), ["challenge_id"], unique=False
        )

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))

    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), server_default="user", nullable=False)
        )
        batch_op.add_column(sa.Column("stopped_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_subscription_next_run_at"), ["next_run_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_next_run_at"))
        batch_op.drop_column("stopped_at")
        batch_op.drop_column("stopped_reason")
        batch_op.drop_column("source")
        batch_op.drop_column("next_run_at")

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")

    with op.batch_alter_table("challenge_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_challenge_alert_challenge_id"))

    op.drop_table("challenge_alert")
    with op.batch_alter_table("alert_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_task_done_at"))

    op.drop_table("alert_task")
    with op.batch_alter_table("scheduler_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_job_next_run_time"))

    op.drop_table("scheduler_job")
