"""Engagement tests use the handler tests' chat fixture."""

from __future__ import annotations

from tests.handlers.conftest import chat

__all__ = ["chat"]
