"""Install isokron as a Hermes-style plugin: ``<home>/plugins/isokron``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import yaml

from ..config import PROVIDER_NAME, IsoKronConfig
from ..errors import ConfigError

__all__ = [
    "PLUGIN_INIT",
    "PLUGIN_YAML",
    "config_schema",
    "default_home",
    "install_plugin",
    "save_isokron_section",
]

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
}

PLUGIN_INIT = '''"""isokron memory provider plugin (written by `isokron hermes-install`)."""

from pathlib import Path

from isokron import IsoKronMemoryProvider

# <home>/plugins/isokron/__init__.py -> <home>/config.yaml
CONFIG_PATH = Path(__file__).resolve().parents[2] / "config.yaml"


def register(ctx):
    """Register isokron as a memory provider with the host agent."""
    ctx.register_memory_provider(IsoKronMemoryProvider(CONFIG_PATH))
'''

PLUGIN_YAML = """name: isokron
kind: memory_provider
description: Governed memory on PostgreSQL (role charter, policies, capabilities, chain events)
entry: register
"""


def config_schema() -> list[dict[str, Any]]:
    """Describe every IsoKronConfig field for setup wizards (the DSN is secret)."""
    schema = []
    for field in attrs.fields(IsoKronConfig):
        default = None if field.default is attrs.NOTHING else field.default
        schema.append({
            "key": field.name,
            "description": _DESCRIPTIONS.get(field.name, field.name),
            "type": str(field.type),
            "default": default,
            "required": field.default is attrs.NOTHING,
            "secret": field.name == "dsn",
        })
    return schema


def default_home() -> Path:
    """Return ``$HERMES_HOME`` or ``~/.hermes``."""
    return Path(os.environ.get("HERMES_HOME") or "~/.hermes").expanduser()


def install_plugin(home: str | os.PathLike[str] | None = None) -> Path:
    """Write ``<home>/plugins/isokron/{__init__.py,plugin.yaml}`` and return the folder."""
    root = Path(home).expanduser() if home is not None else default_home()
    folder = root / "plugins" / "isokron"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(PLUGIN_INIT, encoding="utf-8")
    (folder / "plugin.yaml").write_text(PLUGIN_YAML, encoding="utf-8")
    return folder


def save_isokron_section(values: dict[str, Any], home: str | os.PathLike[str]) -> Path:
    """Merge ``values`` into the ``isokron:`` section of ``<home>/config.yaml``, atomically.

    Every other key of the file is kept; an unknown isokron setting is a ConfigError.
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
        raise ConfigError(f"unknown isokron setting(s): {', '.join(unknown)}", key=unknown[0])
    document[PROVIDER_NAME] = section
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path
