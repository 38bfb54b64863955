"""The pure part of acting in community rooms: the power levels a redaction, a mute and its end
need, computed from ``m.room.power_levels`` as the homeserver does."""

from __future__ import annotations

from typing import Any

from bot.adapters.matrix_events import (
    event_level,
    explicit_level,
    mute_level,
    redact_level,
    with_user_level,
)

SYNAPSE_DEFAULT: dict[str, Any] = {
    "users": {"@host:hs": 100},
    "users_default": 0,
    "events": {"m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100},
    "events_default": 0,
    "state_default": 50,
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
}


def test_the_levels_needed_come_from_the_events_or_their_defaults() -> None:
    assert event_level(SYNAPSE_DEFAULT, "m.room.power_levels", state=True) == 100
    assert event_level(SYNAPSE_DEFAULT, "m.room.topic", state=True) == 50
    assert event_level(SYNAPSE_DEFAULT, "m.room.message", state=False) == 0
    assert redact_level(SYNAPSE_DEFAULT) == 50
    assert redact_level({"redact": "20"}) == 20
    # A room without power levels: state needs 50, messages 0, redactions 50.
    assert event_level(None, "m.room.power_levels", state=True) == 50
    assert event_level({}, "m.room.message", state=False) == 0
    assert redact_level(None) == 50


def test_a_mute_is_below_every_kind_of_speaking() -> None:
    assert mute_level(SYNAPSE_DEFAULT) == -1
    announcements = {**SYNAPSE_DEFAULT, "events_default": 50}
    assert mute_level(announcements) == 49
    # Encrypted messages are m.room.encrypted: the lowest of the speaking types counts.
    mixed = {"events_default": 10, "events": {"m.room.message": 20, "m.room.encrypted": 5}}
    assert mute_level(mixed) == 4
    assert mute_level({"events": {"m.room.message": "x"}, "events_default": 3}) == 2


def test_a_members_level_is_set_or_given_back_to_the_default() -> None:
    muted = with_user_level(SYNAPSE_DEFAULT, "@spam:hs", -1)
    assert muted["users"] == {"@host:hs": 100, "@spam:hs": -1}
    assert SYNAPSE_DEFAULT["users"] == {"@host:hs": 100}  # the original is left alone
    assert muted["events"] == SYNAPSE_DEFAULT["events"]
    assert explicit_level(muted, "@spam:hs") == -1
    back = with_user_level(muted, "@spam:hs", None)
    assert back["users"] == {"@host:hs": 100}
    assert explicit_level(back, "@spam:hs") is None
    assert explicit_level(None, "@spam:hs") is None
    assert with_user_level(None, "@spam:hs", 10) == {"users": {"@spam:hs": 10}}
