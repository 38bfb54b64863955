"""Logging set-up: readable text or one JSON object per line, and pseudonyms for user ids."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime


def pseudonym(value: str) -> str:
    """A short stable stand-in for a user or chat id, so logs can be correlated, not read."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Python's warnings (libraries' deprecation and usage warnings) become log records too, so
    # that with the JSON format every line of innobot's output is one JSON object.
    logging.captureWarnings(True)
    # Libraries log request URLs (which contain the bot token) at INFO.
    for noisy in ("httpx", "telegram", "apscheduler", "aiohttp.access", "nio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
