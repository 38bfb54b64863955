"""``innobot run`` for the operations tests and benchmarks, in a process of its own.

It is innobot's real command line (settings from the environment, signal handling, the 10-second
stop) with two changes for the lab: the keyword analyzer instead of the trained NLP pipeline (set
``INNOBOT_LAB_ANALYZER=pipeline`` to load the trained one), and, with ``INNOBOT_LAB_LIFT_PACING=1``,
Telegram's flood limits lifted, because the local Bot API double has none. When it exits, it
appends the wall-clock time to ``$INNOBOT_DATA_DIR/exited-at``: the tests measure how long innobot
took to stop from there, not from when their own busy event loop noticed the exit.

    python -m tests.ops.serve
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from pathlib import Path

from bot.adapters.base import Pacing

LAB_PACING = Pacing(per_chat_rate=1000.0, per_chat_burst=1000, overall_rate=100_000.0)


def _note_exit() -> None:
    data_dir = Path(os.environ.get("INNOBOT_DATA_DIR", "."))
    with (data_dir / "exited-at").open("a") as note:
        note.write(f"{time.time()}\n")


def main() -> int:
    atexit.register(_note_exit)
    import bot.app
    from bot import cli
    from bot.adapters.telegram import TelegramAdapter
    from handlers.intents import KeywordAnalyzer

    if os.environ.get("INNOBOT_LAB_ANALYZER", "keyword") == "keyword":
        bot.app.load_analyzer = KeywordAnalyzer
    if os.environ.get("INNOBOT_LAB_LIFT_PACING") == "1":
        TelegramAdapter.pacing = LAB_PACING
    return cli.main(["run"])


if __name__ == "__main__":
    sys.exit(main())
