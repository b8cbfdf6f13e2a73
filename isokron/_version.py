"""The package version and how to install it (a module of its own, so nothing imports the
facade for either)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["__version__", "install_command"]

__version__ = "0.1.0"


def install_command(extra: str | None = None, *, python: str | None = None) -> str:
    """The pip command that installs isokron (with ``extra``) from a clone of its repository.

    isokron is not on a package index: installing it by name would fetch something else
    or nothing. When this copy runs from a clone (an editable install) the command names
    that clone; otherwise it is the clone form, ``pip install '.[extra]'``, to run there.
    """
    pip = f"{python} -m pip" if python else "pip"
    suffix = f"[{extra}]" if extra else ""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "isokron" / "_version.py").is_file():
        return f"{pip} install '{root}{suffix}'"
    return f"{pip} install '.{suffix}' (in a clone of the isokron repository)"
