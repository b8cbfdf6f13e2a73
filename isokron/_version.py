"""The package version (a module of its own, so nothing imports the facade for it)."""

__version__ = "0.1.0"
