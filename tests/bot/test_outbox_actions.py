"""Group actions and polls through the outbox: stored with their row, carried out once, and
their outcome handed over in the transaction that settles the row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import Pacing, Receipt, RejectedMessage, RetryLater
from bot.outbox import DeliveryWorker, decode_reply, encode_reply, enqueue
from handlers.core import Button, GroupAction, Platform, Poll, Reply
from storage.models import OutboxMessage

DELETE = GroupAction("delete_message", ref="R-3", message_id="17")


@dataclass
class ActingAdapter:
    """Carries out actions with the receipts (or errors) it is given, in order."""

    outcomes: list[Receipt | Exception | None]
    platform: Platform = Platform.TELEGRAM
    pacing: Pacing = field(default_factory=lambda: Pacing(1000.0, 1000, 1000.0))
    done: list[tuple[str, Reply]] = field(default_factory=list)

    async def send(self, chat_id: str, reply: Reply) -> Receipt | None:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        self.done.append((chat_id, reply))
        return outcome


@dataclass
class Heard:
    calls: list[tuple[int, GroupAction, Receipt | None, str | None, bool]] = field(
        default_factory=list
    )

    async def __call__(
        self,
        session: AsyncSession,
        row: OutboxMessage,
        action: GroupAction,
        receipt: Receipt | None,
        error: str | None,
    ) -> None:
        self.calls.append((row.id, action, receipt, error, session.in_transaction()))


async def _queue(sessions: async_sessionmaker[AsyncSession], replies: Sequence[Reply]) -> None:
    async with sessions() as session, session.begin():
        enqueue(session, Platform.TELEGRAM, "-100", list(replies))


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str | None]]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.status, row.last_error) for row in rows]


def test_polls_and_actions_survive_the_round_trip() -> None:
    poll = Poll("Which?", ("A", "B"), "consultation:4", multiple=True, intro="*Q-4*")
    reply = Reply("Which?", ((Button("A", "c:vote 4 1"),),), poll=poll)
    assert decode_reply(encode_reply(reply)) == reply
    mute = Reply("", action=GroupAction("restrict", ref="R-1", user_id="55", until=1_900_000_000))
    assert decode_reply(encode_reply(mute)) == mute


async def test_an_action_done_is_sent_and_its_outcome_heard(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    heard = Heard()
    adapter = ActingAdapter([{"ok": True}])
    worker = DeliveryWorker(sessions, {Platform.TELEGRAM: adapter}, on_action=heard)
    await _queue(sessions, [Reply("", action=DELETE)])
    assert await worker.deliver_due()
    assert adapter.done == [("-100", Reply("", action=DELETE))]
    assert heard.calls == [(1, DELETE, {"ok": True}, None, True)]
    assert await _rows(sessions) == [("sent", None)]
    assert not await worker.deliver_due()  # done once


async def test_a_refused_action_is_failed_with_its_reason(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    heard = Heard()
    refusal = {"ok": False, "reason": "no_right", "status": "member", "detail": "no"}
    worker = DeliveryWorker(sessions, {Platform.TELEGRAM: ActingAdapter([refusal])})
    worker.set_action_hook(heard)
    await _queue(sessions, [Reply("", action=DELETE)])
    await worker.deliver_due()
    assert heard.calls == [(1, DELETE, refusal, None, True)]
    assert await _rows(sessions) == [("failed", "no_right: no")]


async def test_flood_control_retries_an_action_and_a_rejected_one_is_heard_as_an_error(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    heard = Heard()
    adapter = ActingAdapter([RetryLater(0.0), RejectedMessage("not a Telegram id")])
    worker = DeliveryWorker(sessions, {Platform.TELEGRAM: adapter}, on_action=heard)
    await _queue(sessions, [Reply("", action=DELETE)])
    await worker.deliver_due()
    assert heard.calls == []
    assert await _rows(sessions) == [("pending", "retry after 0.0s")]
    await worker.deliver_due()
    assert heard.calls == [(1, DELETE, None, "not a Telegram id", True)]
    assert await _rows(sessions) == [("failed", "not a Telegram id")]


async def test_plain_replies_are_not_heard(sessions: async_sessionmaker[AsyncSession]) -> None:
    heard = Heard()
    worker = DeliveryWorker(sessions, {Platform.TELEGRAM: ActingAdapter([None])}, on_action=heard)
    await _queue(sessions, [Reply("hello")])
    await worker.deliver_due()
    assert heard.calls == []
    assert await _rows(sessions) == [("sent", None)]
