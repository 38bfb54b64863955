"""Structured logs: with ``INNOBOT_LOG_FORMAT=json`` every line innobot writes is one JSON object,
library warnings and errors with tracebacks included. (What innobot logs under load, without
anybody's words or ids, is checked by ``test_scale_out.py``.)"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.ops.cluster import ROOT

PROGRAM = """
import logging, warnings
from bot import logs
logs.configure("INFO", "json")
logging.getLogger("innobot").info("innobot is running (Telegram: %s)", "webhook")
warnings.warn("a library's warning\\nover two lines", UserWarning)
try:
    raise RuntimeError("boom")
except RuntimeError:
    logging.getLogger("bot.dispatch").exception("handler failed on a text message")
logging.getLogger("bot.dispatch").debug("not shown at INFO")
"""


def test_every_line_is_one_json_object() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, check=True
    )
    lines = result.stderr.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["level"], e["logger"]) for e in entries] == [
        ("INFO", "innobot"),
        ("WARNING", "py.warnings"),
        ("ERROR", "bot.dispatch"),
    ]
    assert entries[0]["message"] == "innobot is running (Telegram: webhook)"
    assert "a library's warning" in entries[1]["message"]
    assert "RuntimeError: boom" in entries[2]["exception"]
    assert all(entry["time"].endswith("+00:00") for entry in entries)
