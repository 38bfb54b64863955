"""The console adapter: a conversation with innobot in the terminal, buttons as numbered choices."""

from __future__ import annotations

import asyncio
import locale
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from bot.adapters.base import Pacing
from handlers.core import Button, ContentKind, IncomingMessage, Platform, Reply
from handlers.markup import to_plain

CONSOLE_CHAT = "console"


def console_language() -> str | None:
    """The terminal's language (``LANG=it_IT.UTF-8`` → ``it``), as a hint like Telegram's."""
    value = os.environ.get("LC_ALL") or os.environ.get("LANG") or locale.getlocale()[0] or ""
    return value.split(".", 1)[0].replace("_", "-") or None


class ConsoleAdapter:
    """Reads lines from ``stdin``, prints replies to ``stdout``.

    A line that is just the number of a choice offered by the last reply presses that button.
    Documents (such as a data export) are written into ``export_dir`` and their path printed.
    """

    platform = Platform.CONSOLE
    pacing = Pacing(per_chat_rate=1000.0, per_chat_burst=1000, overall_rate=1000.0)

    def __init__(
        self,
        on_message: Callable[[IncomingMessage], Awaitable[None]],
        *,
        export_dir: Path,
        user: str = "console-user",
        display_name: str | None = None,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        language_hint: str | None = None,
    ) -> None:
        self._on_message = on_message
        self._export_dir = export_dir
        self._user = user
        self._display_name = display_name or user
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._language_hint = language_hint if language_hint is not None else console_language()
        self._choices: list[Button] = []
        self._printed = asyncio.Event()

    async def send(self, chat_id: str, reply: Reply) -> None:
        out = self._stdout
        out.write("\n" + to_plain(reply.text) + "\n")
        choices = [button for row in reply.buttons for button in row]
        if choices:
            self._choices = choices
            for number, button in enumerate(choices, 1):
                out.write(f"  [{number}] {button.label}\n")
        if reply.document is not None:
            self._export_dir.mkdir(parents=True, exist_ok=True)
            name = Path(reply.document.filename).name or "innobot-file"
            path = self._export_dir / name
            path.write_bytes(reply.document.content)
            out.write(f"  (file saved: {path})\n")
        out.flush()
        self._printed.set()

    def to_incoming(self, line: str) -> IncomingMessage:
        """Turn a typed line into a message (a number picks one of the last choices)."""
        text = line.rstrip("\n")
        stripped = text.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self._choices):
            button = self._choices[int(stripped) - 1]
            return IncomingMessage(
                platform=self.platform,
                chat_id=CONSOLE_CHAT,
                user_id=self._user,
                button=button.payload,
                kind=ContentKind.BUTTON,
                display_name=self._display_name,
                language_hint=self._language_hint,
            )
        return IncomingMessage(
            platform=self.platform,
            chat_id=CONSOLE_CHAT,
            user_id=self._user,
            text=text,
            display_name=self._display_name,
            language_hint=self._language_hint,
        )

    async def run(self, *, settle: float = 0.3) -> None:
        """Converse until end of input (Ctrl-D) or ``/quit``."""
        self._stdout.write("innobot — type /start to begin, /quit to leave.\n")
        self._stdout.flush()
        while True:
            self._stdout.write("> ")
            self._stdout.flush()
            line = await asyncio.to_thread(self._stdin.readline)
            if not line or line.strip() in {"/quit", "/exit"}:
                break
            self._printed.clear()
            await self._on_message(self.to_incoming(line))
            # Let the outbox print the replies before showing the next prompt.
            try:
                await asyncio.wait_for(self._printed.wait(), timeout=5)
                while True:
                    self._printed.clear()
                    await asyncio.wait_for(self._printed.wait(), timeout=settle)
            except TimeoutError:
                pass
