"""Plug isokron into agent frameworks."""
