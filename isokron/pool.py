"""Open asyncpg pools the one way isokron uses them, and translate driver failures.

Every pool isokron opens comes from :func:`create_pool`: JSON and JSONB are
decoded once by the driver, ``statement_timeout`` and ``application_name``
are set per connection, and connection-level failures surface as
:class:`~isokron.errors.SubstrateUnavailableError` raised ``from`` the
driver's exception (see :func:`translate_errors`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from . import telemetry
from .errors import (
    ContextTokenError,
    DatabaseError,
    DuplicateMemoryError,
    InvalidInputError,
    IsoKronError,
    NotFoundError,
    NotOwnedError,
    QueryTimeoutError,
    QuotaExceededError,
    SubstrateUnavailableError,
    SupersededError,
)
from .guard.context_token import CLAIM_OF_SETTING, ContextSigner
from .guard.dsn import redact_dsn

__all__ = [
    "DB",
    "CONTEXT_TOKEN_SETTING",
    "OWN_TRANSACTION",
    "TENANT_MISMATCH_SQLSTATE",
    "Conn",
    "acquire",
    "create_pool",
    "error_for",
    "in_transaction",
    "init_connection",
    "is_connection_failure",
    "is_transient_refusal",
    "is_unavailable",
    "quota_error",
    "translate_errors",
]

#: A pool or a single connection: every reader and store accepts either.
DB = asyncpg.Pool | asyncpg.Connection

#: SQLSTATE the schema's write functions raise for a foreign workspace or actor.
TENANT_MISMATCH_SQLSTATE = "IKT01"
#: isokron's own SQLSTATEs (raised by its SQL functions) and the errors they become.
_ISOKRON_SQLSTATES: dict[str, type[IsoKronError]] = {
    TENANT_MISMATCH_SQLSTATE: NotOwnedError,  # a foreign workspace or actor
    "IKT02": NotOwnedError,  # a namespace the workspace may not write
    "IKT03": NotOwnedError,  # a memory id that lives in another namespace
    "IKN01": NotFoundError,  # an unknown workspace, or a session the caller cannot see
    "IKN02": NotFoundError,  # a memory that does not exist (or is retracted) where asked
    "IKD01": DuplicateMemoryError,  # two live memories of a namespace would say the same
    "IKS01": SupersededError,  # a memory that was already superseded
    "IKI01": InvalidInputError,  # an import (or a tree change) that would mix two trees
    "IKC01": ContextTokenError,  # a signed tenant context that does not verify or expired
}
#: SQLSTATE of a write refused by a quota (the schema's quota triggers, 0028)
QUOTA_SQLSTATE = "IKQ01"
_QUOTA_MESSAGE = re.compile(r"(quota_[a-z_]+) exceeded: limit (\d+)")
#: the setting that carries a signed tenant context (``signed_context``)
CONTEXT_TOKEN_SETTING = "isokron.context_token"
#: marks a SigningConnection's signed settings as those of a transaction in_transaction
#: opened (not one its caller opened and handed in)
OWN_TRANSACTION = "\x00own"

# SQLSTATEs that mean "the database is not there right now" (shutdown, starting up, full).
_CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
#: query_canceled: statement_timeout (or a cancel) fired; the server is there.
STATEMENT_TIMEOUT_SQLSTATE = "57014"
#: a schema, table or function isokron's SQL names is missing: the database is not migrated
#: (3F000 invalid_schema_name, 42P01 undefined_table, 42883 undefined_function)
_NOT_MIGRATED_SQLSTATES = frozenset({"3F000", "42P01", "42883"})
_UNAVAILABLE_SQLSTATES = _CONNECTION_SQLSTATES | {STATEMENT_TIMEOUT_SQLSTATE}



def is_connection_failure(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a connection-level failure: the only kind worth retrying.

    Client errors (bad data, constraints, permissions) and statement timeouts are not:
    the database answered, and asking again would get the same answer.
    """
    if isinstance(exc, QueryTimeoutError):
        return False
    if isinstance(exc, SubstrateUnavailableError):
        cause = exc.__cause__
        return cause is None or is_connection_failure(cause)
    if isinstance(exc, asyncpg.exceptions.PostgresConnectionError):
        return True  # connection lost or refused (ConnectionDoesNotExistError, …)
    if isinstance(exc, asyncpg.PostgresError):
        return getattr(exc, "sqlstate", None) in _CONNECTION_SQLSTATES
    return isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncio.TimeoutError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.PostgresConnectionError,
    )


#: the database answered, but a lock or a busy moment refused the statement: worth another
#: try later (statement or lock timeout, lock not available, serialization, deadlock)
_TRANSIENT_SQLSTATES = frozenset({STATEMENT_TIMEOUT_SQLSTATE, "55P03", "40001", "40P01"})


def is_transient_refusal(exc: BaseException) -> bool:
    """Tell whether ``exc`` is a refusal that may pass on a retry although the database is
    healthy (a lock held elsewhere, a timeout, a conflict): retry it, but not as an outage."""
    if isinstance(exc, QueryTimeoutError):
        return True
    cause = exc.__cause__ if isinstance(exc, IsoKronError) else exc
    return getattr(cause, "sqlstate", None) in _TRANSIENT_SQLSTATES


def is_unavailable(exc: BaseException) -> bool:
    """Tell whether ``exc`` means the database is unreachable or too slow."""
    if isinstance(exc, SubstrateUnavailableError):
        return True
    if isinstance(
        exc,
        OSError
        | TimeoutError
        | asyncio.TimeoutError
        | asyncpg.InterfaceError
        | asyncpg.exceptions.PostgresConnectionError,
    ):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return getattr(exc, "sqlstate", None) in _UNAVAILABLE_SQLSTATES
    return False


class translate_errors:  # noqa: N801 - used as a function: ``async with translate_errors(…)``
    """Re-raise driver failures inside the block as isokron's typed errors.

    Connection failures and timeouts become SubstrateUnavailableError; isokron's own
    SQLSTATEs (``IKxxx``, raised by its SQL functions) become NotOwnedError or NotFoundError
    with the function's message (``IKQ01``, a quota trigger's refusal, QuotaExceededError
    naming the quota and its limit); data and constraint errors (classes 22, 23) become
    InvalidInputError, insufficient privilege NotOwnedError, and any other driver or server
    error DatabaseError: a store never raises a raw asyncpg error.

    A class, not a generator-based context manager: every store call enters one, and a
    generator costs several times as much to enter and leave (issue 27).
    """

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, Exception) or isinstance(exc, SubstrateUnavailableError):
            return  # nothing to translate: it propagates as it is
        translated = _translated(self.what, exc)
        if translated is not None:
            raise translated from exc


def _translated(what: str, exc: Exception) -> Exception | None:
    """The typed error :class:`translate_errors` raises for ``exc`` (None: ``exc`` itself)."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    if sqlstate == QUOTA_SQLSTATE:
        return quota_error(what, exc)
    mapped = _ISOKRON_SQLSTATES.get(sqlstate)
    if mapped is not None:
        return mapped(f"{what}: {exc}")
    if sqlstate == STATEMENT_TIMEOUT_SQLSTATE:
        return QueryTimeoutError(
            f"{what}: the statement ran past statement_timeout (a lock held elsewhere, "
            f"or a slow query): {exc}")
    if is_unavailable(exc):
        return SubstrateUnavailableError(
            f"{what}: database unavailable ({type(exc).__name__}: {exc})")
    if isinstance(exc, asyncpg.PostgresError):
        if sqlstate[:2] in ("22", "23"):  # data exception, integrity constraint
            return InvalidInputError(f"{what}: {exc}")
        if sqlstate == "42501":
            return NotOwnedError(f"{what}: permission denied: {exc}")
        if sqlstate in _NOT_MIGRATED_SQLSTATES:
            return DatabaseError(f"{what}: {type(exc).__name__}: {exc} (the database is "
                                 "not migrated, or not up to date: run `isokron migrate` "
                                 "as the schema owner)", sqlstate=sqlstate)
        return DatabaseError(f"{what}: {type(exc).__name__}: {exc}",
                             sqlstate=sqlstate or None)
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.exceptions.InternalClientError):
        # a driver-side refusal that is not a lost connection (those are handled above)
        return DatabaseError(f"{what}: {type(exc).__name__}: {exc}")
    if isinstance(exc, RecursionError):
        return InvalidInputError(f"{what}: the value is nested too deeply")
    return None


def error_for(sqlstate: str, message: str) -> IsoKronError:
    """The typed error for an item a many-row SQL function refused with ``sqlstate`` (it
    reports each item's error instead of raising): as :func:`translate_errors` maps them."""
    mapped = _ISOKRON_SQLSTATES.get(sqlstate)
    if mapped is not None:
        return mapped(message)
    if sqlstate[:2] in ("22", "23"):
        return InvalidInputError(message)
    if sqlstate == "42501":
        return NotOwnedError(f"permission denied: {message}")
    return DatabaseError(message, sqlstate=sqlstate or None)


def quota_error(what: str, exc: BaseException) -> QuotaExceededError:
    """The QuotaExceededError of a driver error with SQLSTATE IKQ01 (names the quota)."""
    message = str(getattr(exc, "message", None) or exc)
    found = _QUOTA_MESSAGE.search(message)
    quota, limit = (found.group(1), int(found.group(2))) if found else ("quota", None)
    detail = getattr(exc, "detail", None)
    return QuotaExceededError(f"{what}: {message}" + (f" ({detail})" if detail else ""),
                              quota=quota, limit=limit)


async def init_connection(conn: asyncpg.Connection) -> None:
    """Register JSON/JSONB codecs so values arrive decoded exactly once."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class SigningConnection(asyncpg.Connection):
    """A connection that knows how its pool signs tenant contexts, and which settings its
    current transaction has signed so far (a joined transaction adds to them)."""

    __slots__ = ("context_signer", "signed_settings")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context_signer: ContextSigner | None = None
        self.signed_settings: dict[str, str] = {}


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on release (one round trip per checkout).

    isokron keeps no session state: every setting is transaction-local, no advisory lock
    outlives its transaction, nothing LISTENs. asyncpg still rolls back a transaction left
    open before calling this.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 4,
    statement_timeout_ms: int = 5000,
    application_name: str = "isokron",
    connect_timeout_s: float = 5.0,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    prepared_statements: bool = True,
    context_signer: ContextSigner | None = None,
) -> asyncpg.Pool:
    """Open a pool with isokron's codecs and session settings; raise SubstrateUnavailableError.

    ``prepared_statements=False`` is for PgBouncer in transaction mode: no statement cache
    (each statement is parsed in its own round trip's unnamed statement) and no
    ``statement_timeout`` startup parameter (PgBouncer refuses unknown ones): set it on
    the role instead (``ALTER ROLE … SET statement_timeout``; ``isokron doctor`` checks).
    With ``context_signer`` every transaction's tenant settings go out as one signed token
    (``signed_context``): the only context the database believes once a key is installed.
    """

    async def _init(conn: asyncpg.Connection) -> None:
        if isinstance(conn, SigningConnection):
            conn.context_signer = context_signer
        await init_connection(conn)
        # Round trips per span (isokron.db.round_trips), on connections opened once a tracer
        # provider is installed: without one there is no span to count them for.
        if telemetry.tracing():
            conn.add_query_logger(telemetry.count_query)
        if init is not None:
            await init(conn)

    settings: dict[str, Any] = {"application_name": application_name}
    if prepared_statements:
        settings["statement_timeout"] = str(statement_timeout_ms)
    async with translate_errors(f"connecting to {redact_dsn(dsn)}"):
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init,
            reset=_no_session_reset,
            server_settings=settings,
            timeout=connect_timeout_s,
            statement_cache_size=100 if prepared_statements else 0,
            connection_class=SigningConnection,
        )
    assert pool is not None
    return pool


#: A connection isokron can run SQL on: a plain one or one borrowed from a pool.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


class acquire:  # noqa: N801 - used as a function: ``async with acquire(db) as conn``
    """Yield a connection: borrowed from ``db`` if it is a pool, else ``db`` itself.

    A class for the same reason as :class:`translate_errors`: every store call enters one.
    """

    __slots__ = ("_borrowed", "_db")

    def __init__(self, db: DB | Conn) -> None:
        self._db = db
        self._borrowed: Any = None

    async def __aenter__(self) -> Conn:
        if isinstance(self._db, asyncpg.Pool):
            self._borrowed = self._db.acquire()
            conn: Conn = await self._borrowed.__aenter__()
            return conn
        return self._db

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: object) -> None:
        if self._borrowed is not None:
            borrowed, self._borrowed = self._borrowed, None
            await borrowed.__aexit__(exc_type, exc, tb)


@asynccontextmanager
async def in_transaction(
    db: DB | Conn, settings: Mapping[str, str] | None = None
) -> AsyncIterator[Conn]:
    """Yield a connection inside a transaction with ``settings`` applied as local GUCs.

    A connection already in a transaction is reused (no savepoint): the
    settings are then local to the caller's transaction.
    """
    async with acquire(db) as conn:
        if conn.is_in_transaction():
            await _set_locals(conn, settings or {}, joined=True)
            yield conn
            return
        signed = getattr(conn, "signed_settings", None)
        try:
            async with conn.transaction():
                if signed is not None:
                    signed.clear()
                    signed[OWN_TRANSACTION] = "1"  # what joins it may add to its claims
                await _set_locals(conn, settings or {}, joined=False)
                yield conn
        finally:
            if signed is not None:
                signed.clear()


async def _set_locals(conn: Conn, settings: Mapping[str, str], *, joined: bool) -> None:
    signer = getattr(conn, "context_signer", None)
    if signer is not None and settings and CONTEXT_TOKEN_SETTING not in settings:
        # the tenant settings become one signed token; a joined transaction keeps what the
        # outer one signed (the token replaces the last one, so it must carry both)
        tenant = {k: v for k, v in settings.items() if k in CLAIM_OF_SETTING}
        if tenant:
            signed: dict[str, str] = conn.signed_settings  # type: ignore[union-attr]
            if OWN_TRANSACTION in signed:  # ours (or joined to ours): claims accumulate
                signed.update(tenant)
                scope = {k: v for k, v in signed.items() if k in CLAIM_OF_SETTING}
            else:  # joined to a transaction the caller opened: only what it asks for now
                scope = tenant
            settings = {k: v for k, v in settings.items() if k not in CLAIM_OF_SETTING}
            settings[CONTEXT_TOKEN_SETTING] = signer.token_for(scope)
    if not settings:
        return
    names = list(settings)
    await conn.execute(
        "SELECT " + ", ".join(f"set_config(${2 * i + 1}, ${2 * i + 2}, true)" for i in
                              range(len(names))),
        *(item for name in names for item in (name, settings[name])),
    )
