"""The bot's Matrix login: a password once, then the kept token and device; bad credentials."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.matrix import MatrixAdapter, MatrixConfigError
from bot.settings import Settings
from tests.matrix.conftest import MakeBot, MakeMember
from tests.matrix.member import body, is_card
from tests.matrix.synapse import Synapse


def _settings(synapse: Synapse, data_dir: Path, room: str, **values: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        matrix_homeserver=synapse.url,
        matrix_rooms=room,
        matrix_max_backoff=1.0,
        **values,  # type: ignore[arg-type]
    )


async def test_a_password_is_used_once_then_the_token_and_device_are_kept(
    synapse: Synapse,
    make_member: MakeMember,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    moderator = await make_member()
    bot_user = synapse.register(None)
    room = await moderator.create_room([bot_user.user_id])
    password = SecretStr(bot_user.password)
    first = MatrixAdapter(
        _settings(
            synapse, tmp_path, room, matrix_user_id=bot_user.user_id, matrix_password=password
        ),
        sessions,
    )
    first.start()
    await first.wait_ready()
    await first.stop()
    saved_path = tmp_path / "matrix" / "credentials.json"
    saved = json.loads(saved_path.read_text())
    assert saved["user_id"] == bot_user.user_id
    assert saved["device_id"] != bot_user.device_id  # a device of its own
    assert stat.S_IMODE(saved_path.stat().st_mode) == 0o600

    # No password any more: the kept token and device are used.
    second = MatrixAdapter(
        _settings(synapse, tmp_path, room, matrix_user_id=bot_user.user_id), sessions
    )
    second.start()
    try:
        await second.wait_ready()
        assert json.loads(saved_path.read_text())["device_id"] == saved["device_id"]
        assert second.user_id == bot_user.user_id
    finally:
        await second.stop()
    assert second.failure is None


async def test_a_refused_token_turns_matrix_off_with_a_clear_error(
    synapse: Synapse,
    make_member: MakeMember,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    moderator = await make_member()
    room = await moderator.create_room([])
    adapter = MatrixAdapter(
        _settings(synapse, tmp_path, room, matrix_access_token=SecretStr("not-a-token")), sessions
    )
    adapter.start()
    try:
        with pytest.raises(MatrixConfigError, match="refused INNOBOT_MATRIX_ACCESS_TOKEN"):
            await adapter.wait_ready()
        assert not adapter.connected
    finally:
        await adapter.stop()
    no_credentials = MatrixAdapter(_settings(synapse, tmp_path / "x", room), sessions)
    no_credentials.start()
    try:
        with pytest.raises(MatrixConfigError, match="INNOBOT_MATRIX_ACCESS_TOKEN"):
            await no_credentials.wait_ready()
    finally:
        await no_credentials.stop()


async def test_rooms_may_be_given_by_alias(
    synapse: Synapse, make_member: MakeMember, make_bot: MakeBot
) -> None:
    moderator = await make_member()
    bot_user = synapse.register(None)
    room = await moderator.create_room([bot_user.user_id])
    alias = f"#moderation-{bot_user.localpart}:localhost"
    await moderator.client.room_put_alias(alias, room)
    bot = await make_bot([alias], user=bot_user)
    assert bot.room == room
    ref = await bot.submit_idea()
    await moderator.wait_for(room, bot.user_id, is_card(ref))
    await moderator.say(room, f"!approve {ref}")
    await moderator.wait_for(room, bot.user_id, lambda e: "approved by" in body(e))
