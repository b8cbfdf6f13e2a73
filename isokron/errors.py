"""Raise isokron's own exceptions; every one subclasses :class:`IsoKronError`.

The tree::

    IsoKronError
    ├── ConfigError                      bad or missing configuration (names the key)
    ├── SubstrateUnavailableError        the database could not be reached in time
    │   └── QueryTimeoutError            a statement ran past statement_timeout (not an outage)
    ├── WorkspaceNotResolvedError        no workspace id for a call that needs one
    ├── NoActiveRoleCharterError         fail-closed: the workspace has no active charter
    ├── RoleCharterIntegrityError        fail-closed: charter content does not match its hash
    ├── PromptBlockTooLargeError         fail-closed: the verified identity exceeds prompt_max_chars
    ├── MigrationChecksumError           an applied migration's file changed (or is gone)
    ├── DeferredWriteError               a substrate write surface that does not exist yet
    │   ├── ScratchpadWriteNotAvailableError
    │   └── ChainEventEmitNotAvailableError
    ├── NotOwnedError                    the workspace or tenant does not own the object
    │   └── ContextTokenError            a signed tenant context was refused (expired, forged)
    ├── InvalidTransitionError           an illegal delegation status change
    ├── InvalidInputError (ValueError)   a bad argument, rejected before any SQL runs
    ├── QuotaExceededError               a write past a workspace quota (names it and its limit)
    ├── DatabaseError                    the database refused a statement for another reason
    └── NotFoundError (LookupError)      an unknown id or workspace
"""

from __future__ import annotations

__all__ = [
    "ChainEventEmitNotAvailableError",
    "ConfigError",
    "ContextTokenError",
    "DatabaseError",
    "DeferredWriteError",
    "DuplicateMemoryError",
    "InvalidInputError",
    "InvalidTransitionError",
    "IsoKronError",
    "MigrationChecksumError",
    "NoActiveRoleCharterError",
    "NotFoundError",
    "NotOwnedError",
    "PromptBlockTooLargeError",
    "QueryTimeoutError",
    "QuotaExceededError",
    "RoleCharterIntegrityError",
    "ScratchpadWriteNotAvailableError",
    "SubstrateUnavailableError",
    "SupersededError",
    "WorkspaceNotResolvedError",
]

DEFERRED_TAG = "[isokron.deferred]"


class IsoKronError(Exception):
    """Root of every exception isokron raises on purpose."""


class ConfigError(IsoKronError):
    """Reject configuration; ``key`` names the offending setting."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class SubstrateUnavailableError(IsoKronError):
    """Signal that PostgreSQL could not be reached (or answered too late)."""


class QueryTimeoutError(SubstrateUnavailableError):
    """A statement ran past ``statement_timeout`` (a lock held elsewhere, a slow query).

    The database is there: this is not an outage. It is not retried by the outbox and
    does not count towards the circuit breaker; readers still treat it as unavailable
    (stale-if-error applies).
    """


class WorkspaceNotResolvedError(IsoKronError):
    """Signal that no workspace id was given by kwargs, initialize() or config."""


class NoActiveRoleCharterError(IsoKronError):
    """Fail closed: the workspace has no active role charter."""

    def __init__(self, workspace_id: str, *, detail: str = "") -> None:
        super().__init__(f"workspace {workspace_id!r} has no active role charter"
                         + (f" {detail}" if detail else ""))
        self.workspace_id = workspace_id


class RoleCharterIntegrityError(IsoKronError):
    """Fail closed: the charter's hash, or a section shown from it, cannot be trusted.

    ``section`` is None for a hash mismatch, else the section (or ``charter_version``)
    whose ``content_jsonb`` value disagrees with the hashed ``content_md``.
    """

    def __init__(
        self, workspace_id: str, *, expected_hash: str | None, actual_hash: str | None,
        section: str | None = None, detail: str = "",
    ) -> None:
        if section is None:
            message = (f"role charter integrity check failed for workspace {workspace_id!r}: "
                       f"expected content_hash {expected_hash!r}, computed {actual_hash!r}")
        else:
            message = (f"role charter integrity check failed for workspace {workspace_id!r}: "
                       f"section {section!r} is not covered by content_hash"
                       + (f" ({detail})" if detail else ""))
        super().__init__(message)
        self.workspace_id = workspace_id
        self.expected_hash = expected_hash
        self.actual_hash = actual_hash
        self.section = section


class PromptBlockTooLargeError(IsoKronError):
    """Fail closed: the verified parts of the identity block do not fit ``prompt_max_chars``.

    The verified parts (the SHA-256-verified role charter sections and the constitution
    line) are never trimmed, so no block is rendered. ``required`` is the size of the
    smallest block that keeps every verified line; ``max_chars`` the configured bound.
    """

    def __init__(self, *, required: int, max_chars: int) -> None:
        super().__init__(
            f"the identity block needs at least {required} characters to keep every verified "
            f"role charter and constitution line, but prompt_max_chars is {max_chars}; "
            f"raise prompt_max_chars to at least {required} (verified lines are never trimmed)"
        )
        self.required = required
        self.max_chars = max_chars


class MigrationChecksumError(IsoKronError):
    """Refuse to migrate: an applied migration's packaged file no longer matches it.

    ``problems`` holds one line per migration (its file name, the recorded and packaged
    checksums shortened, how to repair); ``missing`` names applied migrations the package
    does not have. Nothing was applied.
    """

    def __init__(self, problems: list[str], *, missing: list[str] | None = None) -> None:
        super().__init__(
            "refusing to migrate, nothing was applied:\n" + "\n".join(f"- {p}" for p in problems)
        )
        self.problems = list(problems)
        self.missing = list(missing or [])


class DeferredWriteError(IsoKronError):
    """Signal a substrate write whose tool does not exist yet (see BUILD_DEVIATIONS.md)."""

    deviation_id: str = ""
    surface: str = ""

    def __init__(self, detail: str = "") -> None:
        message = (
            f"{DEFERRED_TAG} {self.surface} is not available yet "
            f"(deviation {self.deviation_id}); do not bypass it with a direct INSERT "
            "into substrate tables"
        )
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)


class ScratchpadWriteNotAvailableError(DeferredWriteError):
    """Signal that scratchpad writes wait for their MCP tool."""

    deviation_id = "D-kr2-st3-no-scratchpad-write-mcp-tool"
    surface = "scratchpad write"


class ChainEventEmitNotAvailableError(DeferredWriteError):
    """Signal that chain-event emits wait for their MCP tool."""

    deviation_id = "D-kr2-st4-no-chain-emit-mcp-tool"
    surface = "chain event emit"


class NotOwnedError(IsoKronError):
    """Refuse access to an object another workspace or tenant owns."""


class ContextTokenError(NotOwnedError):
    """The database refused the transaction's signed tenant context: the token is malformed,
    signed by a key that is not installed, or expired (``signed_context``)."""


class InvalidTransitionError(IsoKronError):
    """Refuse an illegal delegation status change."""

    def __init__(self, delegation_id: str, current: str, requested: str) -> None:
        super().__init__(
            f"delegation {delegation_id!r}: cannot move from {current!r} to {requested!r}"
        )
        self.delegation_id = delegation_id
        self.current = current
        self.requested = requested


class InvalidInputError(IsoKronError, ValueError):
    """Reject a bad argument before anything is stored."""


class DuplicateMemoryError(InvalidInputError):
    """A change would make two live memories of one namespace say the same (after
    normalisation: case, white space, Unicode NFKC, trailing punctuation; SQLSTATE
    ``IKD01``): nothing was stored. Commit the content without an id to get the existing
    record back, or forget / supersede one of the two."""


class SupersededError(IsoKronError):
    """The memory was already superseded (SQLSTATE ``IKS01``): supersede or update its
    current successor instead (:meth:`~isokron.stores.memory.NamespaceMemory.history`
    shows the lineage)."""


class QuotaExceededError(IsoKronError):
    """PostgreSQL refused a write that would take a workspace past one of its quotas
    (SQLSTATE ``IKQ01``, raised by the schema's triggers): nothing of it was stored.

    ``quota`` is the config key (``quota_messages_per_session``, ...), ``limit`` the limit
    in force for the workspace (None when the message did not carry one). Not retryable:
    the same write is refused again until data is deleted or an operator raises the limit.
    """

    def __init__(self, message: str, *, quota: str, limit: int | None) -> None:
        super().__init__(message)
        self.quota = quota
        self.limit = limit


class NotFoundError(IsoKronError, LookupError):
    """Report an unknown id or workspace."""


class DatabaseError(IsoKronError):
    """The database refused a statement for a reason isokron has no narrower type for.

    ``sqlstate`` is PostgreSQL's code; the driver's exception is the ``__cause__``.
    """

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
