"""Load and validate isokron's configuration (YAML file or mapping, ``${VAR}`` expanded)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from .errors import ConfigError
from .guard.context_token import ContextSigner
from .guard.dsn import redact_dsn
from .guard.files import write_private_text
from .guard.quotas import QUOTA_DESCRIPTIONS, QUOTA_KEYS, QuotaSettings
from .guard.settings import (
    at_least,
    boolean,
    check_dsn,
    embedder_spec,
    identifier,
    one_of,
    optional_text,
    read_dsns,
    similarity,
    unknown_keys_error,
)

__all__ = ["PROVIDER_NAME", "IsoKronConfig", "config_document", "load_config", "settings_of"]

PROVIDER_NAME = "isokron"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TRANSPORTS = ("deferred", "substrate")


def _frozen_spec(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


@attrs.frozen(kw_only=True)
class IsoKronConfig(QuotaSettings):
    """Hold validated settings; YAML keys are the field names (``quota_*``: QuotaSettings)."""

    dsn: str = attrs.field(validator=check_dsn, repr=redact_dsn)
    #: read replicas (one DSN or a list): warm-ups, recall, searches and listings
    read_dsn: tuple[str, ...] = attrs.field(default=(), converter=read_dsns,
                                            repr=lambda v: repr(tuple(map(redact_dsn, v))))
    #: a replica serves only while it is a standby whose replay is within this many
    #: seconds of the primary, measured on the primary (never the replica's clock)
    replica_max_lag_s: float = attrs.field(default=5.0, validator=at_least(0))
    workspace_id: str | None = attrs.field(default=None, validator=optional_text)
    actor_kind: str = attrs.field(default="kora", validator=identifier)
    cache_ttl_seconds: float = attrs.field(default=60.0, validator=at_least(0))
    pool_min_size: int = attrs.field(default=1, validator=at_least(0, integer=True))
    pool_max_size: int = attrs.field(default=4, validator=at_least(1, integer=True))
    statement_timeout_ms: int = attrs.field(default=5000, validator=at_least(1, integer=True))
    #: false behind PgBouncer in transaction mode: no statement cache, no startup settings
    prepared_statements: bool = attrs.field(default=True, validator=boolean)
    prefetch_timeout_s: float = attrs.field(default=10.0, validator=at_least(0, strict=True))
    stale_if_error_seconds: float = attrs.field(default=300.0, validator=at_least(0))
    write_transport: str = attrs.field(default="deferred", validator=one_of(*_TRANSPORTS))
    scratchpad_limit: int = attrs.field(default=100, validator=at_least(1, integer=True))
    recent_event_limit: int = attrs.field(default=50, validator=at_least(1, integer=True))
    prompt_max_chars: int = attrs.field(default=12000, validator=at_least(500, integer=True))
    user_id: str = attrs.field(default="default", validator=optional_text)
    outbox_capacity: int = attrs.field(default=1000, validator=at_least(1, integer=True))
    outbox_max_bytes: int = attrs.field(default=64 * 1024 * 1024,
                                        validator=at_least(1024, integer=True))
    cache_max_workspaces: int = attrs.field(default=1024, validator=at_least(1, integer=True))
    outbox_wait_s: float = attrs.field(default=5.0, validator=at_least(0))
    outbox_max_attempts: int = attrs.field(default=10, validator=at_least(1, integer=True))
    dead_letter_max: int = attrs.field(default=100, validator=at_least(1, integer=True))
    breaker_failures: int = attrs.field(default=3, validator=at_least(0, integer=True))
    breaker_open_seconds: float = attrs.field(default=30.0, validator=at_least(0))
    #: 0 = half the pool (at least 1)
    max_concurrent_per_workspace: int = attrs.field(default=0,
                                                    validator=at_least(0, integer=True))
    shutdown_timeout_s: float = attrs.field(default=10.0, validator=at_least(0))
    integrity_failure: str = attrs.field(default="raise", validator=one_of("raise", "lock"))
    recall_limit: int = attrs.field(default=8, validator=at_least(1, integer=True))
    recall_max_chars: int = attrs.field(default=4000, validator=at_least(500, integer=True))
    #: embeddings for hybrid recall: "module:attr" or {provider: openai, model, base_url,
    #: dims, api_key_env, ...} or (from Python) an embedder; None = lexical recall only
    embedder: Any = attrs.field(default=None, converter=_frozen_spec,
                                                        validator=embedder_spec)
    #: how long recall waits for the query's embedding before it ranks lexically
    embed_timeout_s: float = attrs.field(default=2.0, validator=at_least(0, strict=True))
    #: texts per embed_documents call (at least 32) when stored texts are embedded
    embed_batch_size: int = attrs.field(default=32, validator=at_least(32, integer=True))
    #: a memory whose vector is this near (cosine similarity) to an older live memory of
    #: its namespace is a near duplicate: reported as duplicate_of (keep) or folded (merge)
    dedup: str = attrs.field(default="keep", validator=one_of("keep", "merge"))
    dedup_threshold: float = attrs.field(default=0.95, validator=similarity)
    #: record memory content, queries and tool arguments on OpenTelemetry spans
    otel_capture_content: bool = attrs.field(default=False, validator=boolean)
    #: sign every transaction's tenant context with context_signing_key (the database
    #: believes nothing else once `isokron context-key set` installed the key)
    signed_context: bool = attrs.field(default=False, validator=boolean)
    context_signing_key: str | None = attrs.field(default=None, validator=optional_text,
                                                  repr=lambda v: "***" if v else "None")
    context_token_ttl_s: float = attrs.field(default=300.0, validator=at_least(10))

    def __new__(cls, *args: Any, **kwargs: Any) -> IsoKronConfig:
        # attrs would raise TypeError for an unknown key; a ConfigError names it instead.
        # (No check of missing keys here: copy and pickle call __new__ with none.)
        known = {f.name for f in attrs.fields(cls)}
        if set(kwargs) - known:
            raise unknown_keys_error(set(kwargs) - known, known)
        instance: IsoKronConfig = super().__new__(cls)
        return instance

    @property
    def workspace_concurrency(self) -> int:
        """Database calls one workspace may have in flight at once (see the key above)."""
        if self.max_concurrent_per_workspace:
            return self.max_concurrent_per_workspace
        return max(1, self.pool_max_size // 2)

    def __attrs_post_init__(self) -> None:
        if self.pool_min_size > self.pool_max_size:
            raise ConfigError(f"pool_min_size ({self.pool_min_size}) must not exceed "
                              f"pool_max_size ({self.pool_max_size})", key="pool_min_size")
        if self.signed_context:
            self.context_signer()  # a missing or short key fails here, naming the key

    def context_signer(self) -> ContextSigner | None:
        """The signer of tenant contexts (``signed_context``), else None."""
        if not self.signed_context:
            return None
        if not self.context_signing_key:
            raise ConfigError("signed_context is true but context_signing_key is not set "
                              "(e.g. context_signing_key: ${ISOKRON_CONTEXT_KEY})",
                              key="context_signing_key")
        try:
            return ContextSigner(self.context_signing_key, ttl_s=self.context_token_ttl_s)
        except ConfigError as exc:
            raise ConfigError(f"context_signing_key: {exc}", key="context_signing_key") from None

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Return every accepted key."""
        return tuple(f.name for f in attrs.fields(cls))


_INT_FIELDS = {f.name for f in attrs.fields(IsoKronConfig) if f.type in ("int", int)}
_BOOL_FIELDS = {f.name for f in attrs.fields(IsoKronConfig) if f.type in ("bool", bool)}
_FLOAT_FIELDS = {f.name for f in attrs.fields(IsoKronConfig) if f.type in ("float", float)}


def _expand(value: Any, key: str) -> Any:
    if isinstance(value, str):
        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{key}: environment variable {name} is not set", key=key)
            return os.environ[name]

        return _VAR.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _coerce(key: str, value: Any) -> Any:
    """Turn numeric strings (typically from ${VAR}) into numbers for numeric fields."""
    if not isinstance(value, str):
        return value
    if key in _BOOL_FIELDS:
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ConfigError(f"{key} must be true or false, got {value!r}", key=key)
    try:
        if key in _INT_FIELDS:
            return int(value)
        if key in _FLOAT_FIELDS:
            return float(value)
    except ValueError:
        raise ConfigError(f"{key} must be a number, got {value!r}", key=key) from None
    return value


def config_document(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Read ``source`` (a YAML path or a mapping); ``${VAR}`` is expanded later, per section."""
    if isinstance(source, Mapping):
        raw: Any = dict(source)
    else:
        path = Path(source).expanduser()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} does not exist", key=None) from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("the configuration must be a mapping at the top level")
    return dict(raw)


def provider_name(document: Mapping[str, Any]) -> str | None:
    """Return ``memory.provider`` of a config document, or None when absent."""
    memory = document.get("memory")
    if memory is None:
        return None
    if not isinstance(memory, Mapping) or not isinstance(memory.get("provider"), str):
        raise ConfigError("memory.provider must be a string", key="memory.provider")
    name: str = _expand(memory["provider"], "memory.provider")
    return name


def settings_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """Pick isokron's settings out of a document (``isokron:``, plugin entry, or flat)."""
    plugin = (
        document.get("plugins", {}).get("entries", {}).get(PROVIDER_NAME)
        if isinstance(document.get("plugins"), Mapping)
        and isinstance(document["plugins"].get("entries"), Mapping)
        else None
    )
    if PROVIDER_NAME in document or plugin is not None or "memory" in document:
        merged: dict[str, Any] = {}
        for section, key in ((plugin, "plugins.entries.isokron"),
                             (document.get(PROVIDER_NAME), PROVIDER_NAME)):
            if section is None:
                continue
            if not isinstance(section, Mapping):
                raise ConfigError(f"{key} must be a mapping", key=key)
            merged.update(section)
        return merged
    return dict(document)


def load_config(
    source: IsoKronConfig | str | os.PathLike[str] | Mapping[str, Any],
) -> IsoKronConfig:
    """Build a validated IsoKronConfig; raise ConfigError naming any bad key."""
    if isinstance(source, IsoKronConfig):
        return source
    document = config_document(source)
    name = provider_name(document)
    if name is not None and name != PROVIDER_NAME:
        raise ConfigError(
            f"memory.provider is {name!r}; this configuration is for {PROVIDER_NAME!r}",
            key="memory.provider",
        )
    # Only isokron's own settings are expanded: another section's unset ${VAR} is not ours.
    settings: dict[str, Any] = _expand(settings_of(document), "")
    known = set(IsoKronConfig.field_names())
    unknown = sorted(set(settings) - known)
    if unknown:
        raise unknown_keys_error(unknown, known)
    if "dsn" not in settings or settings["dsn"] in (None, ""):
        raise ConfigError("dsn is required", key="dsn")
    values = {key: _coerce(key, value) for key, value in settings.items()}
    try:
        return IsoKronConfig(**values)
    except TypeError as exc:  # pragma: no cover - attrs reports bad keyword types this way
        raise ConfigError(str(exc)) from exc


_DESCRIPTIONS = {
    "dsn": "PostgreSQL DSN (postgres:// or postgresql://)",
    "workspace_id": "workspace (organisation) id, e.g. org_2abc",
    "actor_kind": "actor kind whose identity is served",
    "cache_ttl_seconds": "seconds a workspace's context stays cached (0 disables)",
    "pool_min_size": "minimum pool connections",
    "pool_max_size": "maximum pool connections",
    "statement_timeout_ms": "per-statement timeout in milliseconds",
    "prefetch_timeout_s": "upper bound on a turn's warm-up, in seconds",
    "stale_if_error_seconds": "serve a verified context this old when the database is down",
    "write_transport": "deferred (default) or substrate",
    "scratchpad_limit": "scratchpad entries read per kind",
    "recent_event_limit": "recent chain events read",
    "prompt_max_chars": "upper bound on the identity block's size",
    "user_id": "user id for sessions when the loop passes none",
    "outbox_capacity": "queued writes before new ones are dropped",
    "shutdown_timeout_s": "how long shutdown waits for queued writes",
    "recall_limit": "memories recalled by prefetch",
    "recall_max_chars": "upper bound on the recall block's size",
    "embedder": "embedder for hybrid recall: module:attr or {provider: openai, ...}",
    "embed_timeout_s": "seconds recall waits for a query embedding before ranking lexically",
    "embed_batch_size": "texts per embedding call (at least 32)",
    "dedup": "near duplicates (with an embedder): keep (report duplicate_of) or merge",
    "dedup_threshold": "cosine similarity in (0, 1] from which a memory is a near duplicate",
    "signed_context": "sign each transaction's tenant context (with a context key installed)",
    "context_signing_key": "the key that signs tenant contexts, e.g. ${ISOKRON_CONTEXT_KEY}",
    "context_token_ttl_s": "how long a signed tenant context stays valid (at least 10 s)",
    **QUOTA_DESCRIPTIONS,
}


def config_schema() -> list[dict[str, Any]]:
    """Describe every IsoKronConfig field for setup wizards (the DSN is secret)."""
    schema = []
    fields: list[attrs.Attribute[Any]] = list(attrs.fields(IsoKronConfig))
    for field in sorted(fields, key=lambda f: f.name in QUOTA_KEYS):  # quotas come last
        default = None if field.default is attrs.NOTHING else field.default
        schema.append({"key": field.name, "type": str(field.type), "default": default,
                       "description": _DESCRIPTIONS.get(field.name, field.name),
                       "required": field.default is attrs.NOTHING,
                       "secret": field.name in ("dsn", "context_signing_key")})
    return schema


def save_isokron_section(values: dict[str, Any], home: str | os.PathLike[str]) -> Path:
    """Merge ``values`` into the ``isokron:`` section of ``<home>/config.yaml``, atomically.

    Every other key of the file is kept; an unknown isokron setting is a ConfigError. The
    file is written ``0600`` (it holds the DSN, password included).
    """
    path = Path(home).expanduser() / "config.yaml"
    document: dict[str, Any] = {}
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            document = loaded
    section = dict(document.get(PROVIDER_NAME) or {})
    section.update(values)
    unknown = sorted(set(section) - set(IsoKronConfig.field_names()))
    if unknown:
        raise unknown_keys_error(unknown, IsoKronConfig.field_names())
    document[PROVIDER_NAME] = section
    return write_private_text(path, yaml.safe_dump(document, sort_keys=False))  # holds a DSN


def default_config_path() -> Path:
    """Return ``$ISOKRON_CONFIG``, else ``$HERMES_HOME/config.yaml`` (default ``~/.hermes``)."""
    explicit = os.environ.get("ISOKRON_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HERMES_HOME") or "~/.hermes"
    return Path(home).expanduser() / "config.yaml"
