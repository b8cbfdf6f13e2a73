"""Install isokron as a Hermes-style plugin: ``<home>/plugins/isokron``."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .._version import install_command
from ..config import config_schema, save_isokron_section
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
    "plugin_init",
    "plugin_yaml",
    "save_isokron_section",
]

PLUGIN_INIT = '''"""isokron memory provider plugin (written by `isokron hermes-install`)."""

import logging
import sys
from pathlib import Path

# <home>/plugins/isokron/__init__.py -> <home>/config.yaml
CONFIG_PATH = Path(__file__).resolve().parents[2] / "config.yaml"
# isokron is not on a package index: it installs from a clone (PYTHON: Hermes's own)
INSTALL = @INSTALL@

try:
    from isokron import IsoKronMemoryProvider
except ImportError as exc:  # isokron is not installed in Hermes's own Python
    IsoKronMemoryProvider = None
    logging.getLogger("isokron").warning(
        "isokron plugin: cannot import %r into Hermes's Python (%s); install it with: %s",
        exc.name, sys.executable, INSTALL.replace("PYTHON", sys.executable, 1))


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


def plugin_init() -> str:
    """The plugin's ``__init__.py``: PLUGIN_INIT with this clone's install command."""
    return PLUGIN_INIT.replace("@INSTALL@", repr(install_command(python="PYTHON")), 1)


def plugin_yaml() -> str:
    """The plugin manifest, in the shape of Hermes's bundled memory plugins."""
    from .._version import __version__

    return yaml.safe_dump({
        "name": "isokron",
        "version": __version__,
        "description": "isokron: governed agent memory on PostgreSQL (verified role charter, "
                       "policies, capabilities, hash-chained events, namespaced memory).",
        "pip_dependencies": [f"isokron>={__version__}"],
        "hooks": list(HOOKS),
    }, sort_keys=False)


PLUGIN_YAML = plugin_yaml()


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
            f"{install_command(python=str(python))}")


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
    (folder / "__init__.py").write_text(plugin_init(), encoding="utf-8")
    (folder / "plugin.yaml").write_text(PLUGIN_YAML, encoding="utf-8")
    return folder


def create_provider() -> Any:
    """Entry point ``hermes_agent.memory_providers``: the provider on Hermes's config.yaml."""
    from ..provider import IsoKronMemoryProvider

    return IsoKronMemoryProvider(default_home() / "config.yaml", integrity_failure="lock")
