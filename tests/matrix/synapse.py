"""A real Matrix homeserver (Synapse) on loopback, for innobot's Matrix tests and benchmarks.

Synapse lives in a virtual environment of its own (``.venv-synapse``, built once by
``scripts/synapse.sh`` and kept between runs). :class:`Synapse` writes a loopback-only
configuration into a directory, starts the server, waits for ``/health``, registers users through
the shared-secret admin API, and stops it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INSTALLER = ROOT / "scripts" / "synapse.sh"
SERVER_NAME = "localhost"

# Limits high enough that tests never meet them; the bot's own pacing is tested by overriding
# one user's message rate through the admin API.
_GENEROUS = {"per_second": 10_000, "burst_count": 10_000}


class SynapseUnavailable(RuntimeError):
    """Synapse could not be installed or started."""


@dataclass(frozen=True)
class MatrixUser:
    user_id: str
    access_token: str
    device_id: str
    password: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def install_synapse() -> Path:
    """The Synapse virtual environment, installed (once) by ``scripts/synapse.sh``."""
    try:
        done = subprocess.run(
            ["bash", str(INSTALLER)], capture_output=True, text=True, check=False, timeout=900
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SynapseUnavailable(f"{INSTALLER} failed to run: {exc}") from exc
    if done.returncode != 0:
        raise SynapseUnavailable(
            f"{INSTALLER} failed (exit {done.returncode}); run `make test`, which installs "
            f"Synapse, or run the script yourself:\n{done.stderr[-3000:]}"
        )
    venv = Path(done.stdout.strip().splitlines()[-1])
    if not (venv / "bin" / "python").exists():
        raise SynapseUnavailable(f"{INSTALLER} did not produce a virtual environment at {venv}")
    return venv


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Synapse:
    """One Synapse process, configured in ``root``."""

    def __init__(self, root: Path, venv: Path, *, port: int | None = None) -> None:
        self.root = root
        self.venv = venv
        self.port = port or free_port()
        self.secret = secrets.token_hex(16)
        self.config = root / "homeserver.yaml"
        self.log = root / "homeserver.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._admin: MatrixUser | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        """A loopback-only configuration (JSON is YAML), and a signing key."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "media").mkdir(exist_ok=True)
        log_config = {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(self.log),
                    "formatter": "plain",
                }
            },
            "root": {"level": "INFO", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        (self.root / "log.config").write_text(json.dumps(log_config), "utf-8")
        config: dict[str, Any] = {
            "server_name": SERVER_NAME,
            "pid_file": str(self.root / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {
                "name": "sqlite3",
                "args": {"database": str(self.root / "homeserver.db")},
            },
            "log_config": str(self.root / "log.config"),
            "media_store_path": str(self.root / "media"),
            "signing_key_path": str(self.root / "signing.key"),
            "registration_shared_secret": self.secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_registration": False,
            "bcrypt_rounds": 4,
            "rc_message": _GENEROUS,
            "rc_login": {"address": _GENEROUS, "account": _GENEROUS, "failed_attempts": _GENEROUS},
            "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
            "rc_joins_per_room": _GENEROUS,
            "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
            "rc_room_creation": _GENEROUS,
            "rc_registration": _GENEROUS,
            "rc_admin_redaction": _GENEROUS,
            "rc_key_requests": _GENEROUS,
            "rc_presence": {"per_user": _GENEROUS},
        }
        self.config.write_text(json.dumps(config, indent=1), "utf-8")
        if not (self.root / "signing.key").exists():
            self._synapse("--config-path", str(self.config), "--generate-keys")

    def _synapse(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-m", "synapse.app.homeserver", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise SynapseUnavailable(f"synapse {' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def start(self, timeout: float = 90.0) -> None:
        if not self.config.exists():
            self.write_config()
        command = [str(self.venv / "bin" / "python"), "-m", "synapse.app.homeserver"]
        # The child keeps its own copy of the log file's descriptor.
        with open(self.root / "stderr.log", "ab") as stderr:
            self._process = subprocess.Popen(
                [*command, "-c", str(self.config)],
                cwd=self.root,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SynapseUnavailable(f"Synapse exited at start-up:\n{self.tail()}")
            if self.healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise SynapseUnavailable(
            f"Synapse did not become healthy in {timeout:.0f}s:\n{self.tail()}"
        )

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.root / "stderr.log", self.log):
            if path.exists():
                parts.append("\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(parts)

    # --- the admin API ---

    def _request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise SynapseUnavailable(f"{method} {path}: {exc.code} {detail}") from exc

    def register(self, name: str | None = None, *, admin: bool = False) -> MatrixUser:
        """A new user, registered with the shared secret (milliseconds, no rate limit)."""
        localpart = name or f"user{next(self._names)}-{secrets.token_hex(3)}"
        password = secrets.token_hex(8)
        nonce = self._request("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password):
            mac.update(part.encode())
            mac.update(b"\x00")
        mac.update(b"admin" if admin else b"notadmin")
        answer = self._request(
            "POST",
            "/_synapse/admin/v1/register",
            {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        return MatrixUser(answer["user_id"], answer["access_token"], answer["device_id"], password)

    @property
    def admin(self) -> MatrixUser:
        if self._admin is None:
            self._admin = self.register(f"admin-{secrets.token_hex(3)}", admin=True)
        return self._admin

    def limit_messages(self, user_id: str, per_second: float, burst: int) -> None:
        """Give one user Synapse's message rate limit (tests of the bot's pacing)."""
        self._request(
            "POST",
            f"/_synapse/admin/v1/users/{urllib.request.quote(user_id)}/override_ratelimit",
            {"messages_per_second": per_second, "burst_count": burst},
            token=self.admin.access_token,
        )
