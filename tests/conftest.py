"""Shared fixtures: a fresh database per test on SQLite and on a throwaway PostgreSQL server.

Fixtures for other test modules:

- ``db_url``: the URL of a fresh, EMPTY database, once on SQLite and once on PostgreSQL (test ids
  ``[sqlite]`` and ``[postgresql]``). Anything that touches the store should use it (directly or
  through ``engine``/``sessions``) so that it runs on both backends.
- ``engine``: an ``AsyncEngine`` on ``db_url``'s database, migrated to head, disposed afterwards.
- ``sessions``: an ``async_sessionmaker`` bound to ``engine``.
- ``sqlite_url`` / ``postgresql_url``: a fresh, empty database on one backend only.

A module that is not about storage and only needs *a* database can run on SQLite alone by
overriding ``db_url`` locally::

    @pytest.fixture
    def db_url(sqlite_url: str) -> str:
        return sqlite_url

PostgreSQL: set ``INNOBOT_TEST_POSTGRES_URL`` (a superuser's URL, e.g.
``postgresql://postgres@127.0.0.1:5432/postgres``) to use an existing server; otherwise a cluster
is created with the PostgreSQL 15 binaries in a temporary directory, started once per test session
on a free loopback port, and removed at the end.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine, is_sqlite, session_factory
from storage.migrate import upgrade, upgrade_engine

POSTGRES_URL_ENV = "INNOBOT_TEST_POSTGRES_URL"
_MISSING_POSTGRES = (
    "PostgreSQL server binaries were not found (looked for /usr/lib/postgresql/*/bin/initdb and "
    "initdb on PATH). The storage tests run on PostgreSQL as well as SQLite: run them with "
    "`make test`, which installs PostgreSQL when it is missing, or point {env} at a server."
)

T = TypeVar("T")


def _run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous fixture code.

    It runs in a thread of its own so that it never disturbs the event loop pytest-asyncio keeps
    for the current test.
    """
    result: list[T] = []
    error: list[BaseException] = []

    async def _main() -> T:
        return await factory()

    def _target() -> None:
        try:
            result.append(asyncio.run(_main()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=_target, name="innobot-test-admin")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on, as a superuser."""

    url: URL  # points at the maintenance database ("postgres")

    def database_url(self, name: str) -> str:
        """An asyncpg URL for database ``name`` on this server."""
        return self.url.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )

    def _admin_dsn(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _admin(self, *statements: str) -> None:
        connection = await asyncpg.connect(self._admin_dsn())
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    def create_database(self, name: str) -> None:
        _run_async(lambda: self._admin(f'CREATE DATABASE "{name}"'))

    def recreate_from(self, name: str, template: str) -> None:
        """Replace database ``name`` by a copy of database ``template``."""

        async def recreate() -> None:
            connection = await asyncpg.connect(self._admin_dsn())
            try:
                # FILE_COPY (PostgreSQL 15+) copies a small database much faster than WAL_LOG.
                version = connection.get_server_version()
                strategy = " STRATEGY FILE_COPY" if version.major >= 15 else ""
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await connection.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}'
                )
            finally:
                await connection.close()

        _run_async(recreate)

    def drop_database(self, name: str) -> None:
        _run_async(lambda: self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _postgres_bin_dir() -> Path | None:
    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/", path)
        return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(found)
    for initdb in candidates:
        bin_dir = Path(initdb).parent
        if (bin_dir / "pg_ctl").exists():
            return bin_dir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _scratch_dir() -> str | None:
    """Where the throwaway cluster lives: memory when the machine offers it (much faster)."""
    shm = Path("/dev/shm")
    # A container's /dev/shm may be tiny (64 MB): only use it when a cluster comfortably fits.
    if (
        shm.is_dir()
        and os.access(shm, os.W_OK | os.X_OK)
        and shutil.disk_usage(shm).free >= 1 << 30
    ):
        return str(shm)
    return None


class _LocalCluster:
    """A throwaway cluster in a temporary directory, run as the ``postgres`` user when root."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="innobot-pg-", dir=_scratch_dir()))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail(
                    "PostgreSQL refuses to run as root and there is no 'postgres' user: "
                    "run the tests with `make test` (it installs the postgresql package)."
                )
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.root.chmod(0o700)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def _fail(self, what: str, process: subprocess.CompletedProcess[str]) -> None:
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        pytest.fail(
            f"{what} failed (exit {process.returncode}):\n{process.stdout}\n{process.stderr}\n{log}"
        )

    def start(self) -> URL:
        initdb = self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data),
            "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        if initdb.returncode != 0:
            self._fail("initdb", initdb)
        for _attempt in range(5):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            started = self._run(
                str(self.bin_dir / "pg_ctl"),
                "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
                "start",
            )  # fmt: skip
            if started.returncode == 0:
                return URL.create(
                    "postgresql", username="postgres", host="127.0.0.1", port=self.port,
                    database="postgres",
                )  # fmt: skip
            # Another process may have taken the port between choosing and binding: try again.
            if "already in use" not in self.log.read_text(errors="replace"):
                self._fail("pg_ctl start", started)
        self._fail("pg_ctl start (no free port)", started)
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this test session (an existing one, or a throwaway cluster)."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if configured:
        yield PostgresServer(make_url(configured))
        return
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.fail(_MISSING_POSTGRES.format(env=POSTGRES_URL_ENV))
    cluster = _LocalCluster(bin_dir)
    try:
        url = cluster.start()
        yield PostgresServer(url)
    finally:
        cluster.stop()


@pytest.fixture
def postgresql_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (asyncpg URL), dropped after the test."""
    name = f"test_{secrets.token_hex(6)}"
    postgres_server.create_database(name)
    try:
        yield postgres_server.database_url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, empty SQLite database file (aiosqlite URL) in the test's temporary directory."""
    return f"sqlite+aiosqlite:///{tmp_path / 'innobot-test.db'}"


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database; the test runs once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database file migrated to head once per session (copied by ``engine``)."""
    path = tmp_path_factory.mktemp("template") / "innobot-template.db"
    _run_async(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def migrated_postgresql_template(postgres_server: PostgresServer) -> Iterator[str]:
    """A PostgreSQL database migrated to head once per session (cloned by ``engine``)."""
    name = f"template_{secrets.token_hex(6)}"
    postgres_server.create_database(name)
    try:
        _run_async(lambda: upgrade(postgres_server.database_url(name)))
        yield name
    finally:
        postgres_server.drop_database(name)


def _fill_with_migrated_schema(request: pytest.FixtureRequest, url: str) -> bool:
    """Make the fresh database at ``url`` a copy of the session's migrated template.

    False if it cannot be done (the database is no longer empty): migrate it instead.
    """
    location = make_url(url)
    if is_sqlite(url):
        path = Path(location.database or "")
        if path.exists() or not location.database:
            return False
        template: Path = request.getfixturevalue("migrated_sqlite_template")
        shutil.copyfile(template, path)
        return True
    server: PostgresServer = request.getfixturevalue("postgres_server")
    if location.database is None or not location.database.startswith("test_"):
        return False
    server.recreate_from(location.database, request.getfixturevalue("migrated_postgresql_template"))
    return True


@pytest.fixture
async def engine(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An async engine on ``db_url``'s database, migrated to head."""
    cloned = _fill_with_migrated_schema(request, db_url)
    created = create_engine(db_url)
    try:
        if not cloned:
            await upgrade_engine(created)
        yield created
    finally:
        await created.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the migrated test database: ``async with sessions() as session: ...``."""
    return session_factory(engine)
