"""Install isokron as a Hermes-style plugin: ``<home>/plugins/isokron``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import yaml

from ..config import PROVIDER_NAME, IsoKronConfig
from ..errors import ConfigError

__all__ = [
    "HOOKS",
    "HermesNotFoundError",
    "PLUGIN_INIT",
    "PLUGIN_YAML",
    "check_importable",
    "config_schema",
    "create_provider",
    "default_home",
    "hermes_python",
    "install_plugin",
    "plugin_yaml",
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

import logging
import sys
from pathlib import Path

# <home>/plugins/isokron/__init__.py -> <home>/config.yaml
CONFIG_PATH = Path(__file__).resolve().parents[2] / "config.yaml"

try:
    from isokron import IsoKronMemoryProvider
except ImportError as exc:  # isokron is not installed in Hermes's own Python
    IsoKronMemoryProvider = None
    logging.getLogger("isokron").warning(
        "isokron plugin: cannot import %r into Hermes's Python (%s); install it with: "
        "%s -m pip install isokron", exc.name, sys.executable, sys.executable)


def register(ctx):
    """Register isokron as a memory provider with the host agent."""
    if IsoKronMemoryProvider is None:
        return
    # Hermes catches provider exceptions: fail closed by locking, not by raising.
    ctx.register_memory_provider(IsoKronMemoryProvider(CONFIG_PATH, integrity_failure="lock"))
'''

#: Hooks isokron implements beyond the required lifecycle (Hermes's plugin.yaml ``hooks``).
HOOKS = ("on_turn_start", "on_session_end", "on_session_switch", "on_pre_compress",
         "on_memory_write", "on_delegation")


def plugin_yaml() -> str:
    """The plugin manifest, in the shape of Hermes's bundled memory plugins."""
    from .. import __version__

    return yaml.safe_dump({
        "name": "isokron",
        "version": __version__,
        "description": "isokron: governed agent memory on PostgreSQL (verified role charter, "
                       "policies, capabilities, hash-chained events, namespaced memory).",
        "pip_dependencies": [f"isokron>={__version__}"],
        "hooks": list(HOOKS),
    }, sort_keys=False)


PLUGIN_YAML = plugin_yaml()


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


class HermesNotFoundError(ConfigError):
    """Hermes's Python could not be found, or cannot import isokron."""


def hermes_python(python: str | os.PathLike[str] | None = None) -> Path:
    """Return the interpreter Hermes runs on: ``python`` if given, else the one named in
    the ``hermes`` executable's ``#!`` line."""
    if python is not None:
        path = Path(python).expanduser()
        if not path.exists():
            raise HermesNotFoundError(f"--python {path}: no such file")
        return path
    hermes = shutil.which("hermes")
    if hermes is None:
        raise HermesNotFoundError(
            "cannot find the `hermes` executable on PATH; pass --python with the Python "
            "Hermes runs on (e.g. --python ~/.hermes/venv/bin/python)")
    first = Path(hermes).read_bytes()[:512].split(b"\n", 1)[0]
    if not first.startswith(b"#!"):
        raise HermesNotFoundError(f"{hermes} has no #! line naming its Python; pass --python")
    return Path(first[2:].decode(errors="replace").strip().split()[0])


def check_importable(python: Path) -> None:
    """Raise HermesNotFoundError, with the exact install command, unless ``python`` can
    import isokron."""
    try:
        proc = subprocess.run([str(python), "-c", "import isokron"], capture_output=True,
                              text=True, timeout=60, check=False)
    except OSError as exc:
        raise HermesNotFoundError(f"cannot run Hermes's Python {python}: {exc}") from None
    if proc.returncode != 0:
        raise HermesNotFoundError(
            f"Hermes's Python ({python}) cannot import isokron; install it there first: "
            f"{python} -m pip install isokron")


def install_plugin(home: str | os.PathLike[str] | None = None, *,
                   python: str | os.PathLike[str] | None = None,
                   check: bool = True) -> Path:
    """Write ``<home>/plugins/isokron/{__init__.py,plugin.yaml}`` and return the folder.

    With ``check`` (the default) Hermes's interpreter must import isokron first; nothing is
    written otherwise, so the install cannot half-succeed.
    """
    if check:
        check_importable(hermes_python(python))
    root = Path(home).expanduser() if home is not None else default_home()
    folder = root / "plugins" / "isokron"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(PLUGIN_INIT, encoding="utf-8")
    (folder / "plugin.yaml").write_text(PLUGIN_YAML, encoding="utf-8")
    return folder


def create_provider() -> Any:
    """Entry point ``hermes_agent.memory_providers``: the provider on Hermes's config.yaml."""
    from ..provider import IsoKronMemoryProvider

    return IsoKronMemoryProvider(default_home() / "config.yaml", integrity_failure="lock")


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
