"""What every platform adapter offers the outbox, and the errors a send may end in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from handlers.core import Platform, Reply

# What the platform answered to a send, for those who need it: the outcome of a group action
# (``{"ok": False, "reason": "no_right", ...}``). Plain JSON values, so it can be stored.
Receipt = dict[str, Any]


class DeliveryError(Exception):
    """A send did not go through."""


class RetryLater(DeliveryError):
    """The platform asked us to slow down (Telegram 429, Matrix M_LIMIT_EXCEEDED)."""

    def __init__(self, retry_after: float, detail: str = "") -> None:
        super().__init__(f"retry after {retry_after:.1f}s {detail}".strip())
        self.retry_after = retry_after


class TransientFailure(DeliveryError):
    """Network trouble or a server error: try again later with backoff."""


class PermanentFailure(DeliveryError):
    """The recipient cannot be reached (blocked the bot, chat gone): do not try again."""


class RejectedMessage(DeliveryError):
    """The platform refused this message (bad markup, invalid button): the recipient is fine."""


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast the outbox may send through an adapter."""

    per_chat_rate: float  # messages per second into one chat, sustained
    per_chat_burst: int  # messages one chat may get at once
    overall_rate: float  # messages per second across all chats
    # Group chats (ids starting with ``group_prefix``) may have a pace of their own.
    per_group_rate: float | None = None
    per_group_burst: int = 1
    group_prefix: str | None = None

    def for_chat(self, chat_id: str) -> tuple[float, int]:
        """The sustained rate and the burst allowed into ``chat_id``."""
        if (
            self.per_group_rate is not None
            and self.group_prefix
            and chat_id.startswith(self.group_prefix)
        ):
            return self.per_group_rate, self.per_group_burst
        return self.per_chat_rate, self.per_chat_burst


class Adapter(Protocol):
    """A platform the outbox can deliver to."""

    platform: Platform
    pacing: Pacing

    async def send(self, chat_id: str, reply: Reply) -> Receipt | None:
        """Deliver ``reply`` into ``chat_id`` or raise a :class:`DeliveryError`; a reply that
        carries a group action gets the action's outcome back."""
        ...
