"""How long the outbox keeps what it delivered.

Every message innobot sends passes through the outbox, and a delivered row still holds the
message's text (a summary of someone's idea, a contact exchanged in an introduction). After the
retention period that text is removed:

- a plain reply (no dedupe key) is deleted: nothing else refers to it;
- any other row keeps its recipient, kind, status, times and dedupe key — what makes every alert,
  suggestion and post go out once, and what the engagement figures count — and loses its payload.

Rows are visited in id order behind a watermark kept in ``adapter_state``, so each run reads only
rows it has not seen. A row still waiting to be delivered stops the watermark until it is done,
unless it has waited twice the retention period (a platform no longer configured, say): then it
is passed over and keeps its payload.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, OutboxStatus
from storage.moderation import get_state, set_state

WATERMARK_KEY = "outbox:retention-watermark"
BATCH = 500


async def scrub_delivered(
    session: AsyncSession, now: datetime, keep: timedelta, batch: int = BATCH
) -> tuple[int, int, bool]:
    """Scrub one batch of delivered rows created before ``now - keep``.

    Returns (rows deleted, rows emptied, whether more may be waiting).
    """
    cutoff = now - keep
    mark = await get_state(session, WATERMARK_KEY)
    after = int(mark) if mark and mark.isdigit() else 0
    rows = (
        await session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.status,
                OutboxMessage.dedupe_key,
                OutboxMessage.created_at,
            )
            .where(OutboxMessage.id > after, OutboxMessage.created_at < cutoff)
            .order_by(OutboxMessage.id)
            .limit(batch)
        )
    ).all()
    deleted: list[int] = []
    emptied: list[int] = []
    last = after
    stuck = cutoff - keep
    for row_id, status, dedupe_key, created_at in rows:
        if status == OutboxStatus.PENDING.value:
            if created_at >= stuck:
                break  # still to be delivered (or retried): the watermark waits for it
        else:
            (emptied if dedupe_key else deleted).append(row_id)
        last = row_id
    if deleted:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(deleted)))
    if emptied:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(emptied)).values(payload={})
        )
    if last != after:
        await set_state(session, WATERMARK_KEY, str(last))
    more = len(rows) == batch and last == rows[-1].id
    return len(deleted), len(emptied), more
