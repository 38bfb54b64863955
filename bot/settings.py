"""innobot's settings, read from the environment (prefix ``INNOBOT_``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All of innobot's configuration. The README's configuration reference mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="INNOBOT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Directory for the embedded SQLite database, Matrix keys and other state.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the store. Unset: SQLite in data_dir. "
            "PostgreSQL: postgresql+asyncpg://user:password@host:5432/innobot"
        ),
    )
    default_language: Literal["en", "it", "sv"] = Field(
        default="en", description="Language for users who chose none and whose app sends none."
    )

    telegram_token: SecretStr | None = Field(
        default=None, description="Bot token from @BotFather. Unset: Telegram is not started."
    )
    telegram_mode: Literal["polling", "webhook"] = Field(
        default="polling", description="How Telegram updates arrive: long polling or a webhook."
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API base URL (a local Bot API server, or a test double).",
    )
    telegram_file_url: str = Field(
        default="https://api.telegram.org/file/bot",
        description="Bot API base URL for file downloads.",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Public HTTPS URL Telegram posts updates to, e.g. https://bot.example.org/telegram",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token (webhook mode).",
    )

    matrix_homeserver: str | None = Field(
        default=None,
        description="Matrix homeserver URL, e.g. https://matrix.example.org. Unset: Matrix is off.",
    )
    matrix_user_id: str | None = Field(
        default=None, description="The bot's Matrix user, e.g. @innobot:example.org."
    )
    matrix_access_token: SecretStr | None = Field(
        default=None, description="The bot's access token (or use matrix_password once)."
    )
    matrix_password: SecretStr | None = Field(
        default=None,
        description="Password to log in once; the token and device are then kept in data_dir.",
    )
    matrix_rooms: str = Field(
        default="",
        description="Moderation rooms (ids or aliases), comma-separated; cards go to the first.",
    )
    matrix_power_level: int = Field(
        default=50, description="Power level a room member needs to moderate."
    )
    matrix_language: Literal["en", "it", "sv"] = Field(
        default="en", description="Language of cards and answers in the moderation rooms."
    )
    matrix_send_rate: float = Field(
        default=5.0,
        description="Messages per second the bot sends at most (see the homeserver's rc_message).",
    )
    matrix_max_backoff: float = Field(
        default=30.0, description="Longest wait, in seconds, between reconnection attempts."
    )

    web_host: str = Field(default="127.0.0.1", description="Address of innobot's web server.")
    web_port: int = Field(
        default=8080, description="Port of innobot's web server (webhook, health)."
    )
    dashboard_secure_cookies: bool = Field(
        default=True,
        description=(
            "Dashboard cookies only over HTTPS (Secure, __Host- prefix). Turn off only to try "
            "the dashboard over plain HTTP."
        ),
    )

    log_level: str = Field(default="INFO", description="Log level (DEBUG shows message metadata).")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text for people, json for one JSON object per line."
    )

    flood_burst: int = Field(
        default=8, description="Messages a user may send in a burst before being throttled."
    )
    flood_rate: float = Field(
        default=1.0, description="Messages per second a user may keep sending after the burst."
    )
    db_retry_attempts: int = Field(
        default=4, description="Attempts at handling a message while the database is busy."
    )
    outbox_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days a delivered message keeps its text in the outbox before it is removed.",
    )

    def resolved_database_url(self) -> str:
        """The store's URL: the configured one, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'innobot.db').resolve()}"
