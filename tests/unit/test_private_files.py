"""Files that hold a secret are the owner's only (issue 24, item 3): the attack is a
second local user reading the DSN's password from config.yaml."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from isokron.config import save_isokron_section
from isokron.guard.files import write_private_text
from isokron.integrations.hermes import save_isokron_section as hermes_save


def _mode(path: os.PathLike[str] | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask():
    old = os.umask(0)  # the worst case: nothing masked
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_private_file_is_0600_even_with_an_open_umask(tmp_path, permissive_umask):
    path = write_private_text(tmp_path / "sub" / "secret.txt", "password=hunter2\n")
    assert _mode(path) == 0o600
    assert path.read_text() == "password=hunter2\n"
    assert [p.name for p in path.parent.iterdir()] == ["secret.txt"]  # no temporary left


def test_an_existing_world_readable_file_is_replaced_0600(tmp_path, permissive_umask):
    path = tmp_path / "secret.txt"
    path.write_text("old")
    path.chmod(0o644)
    write_private_text(path, "new")
    assert _mode(path) == 0o600 and path.read_text() == "new"


def test_the_hermes_setup_writes_config_yaml_0600_and_keeps_other_keys(tmp_path,
                                                                         permissive_umask):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"model": "x", "memory": {"provider": "isokron"}}))
    config.chmod(0o644)
    dsn = "postgresql://app:s3cret-pass@db/isokron"
    for save in (save_isokron_section, hermes_save):
        written = save({"dsn": dsn}, tmp_path)
        assert written == config and _mode(config) == 0o600
    document = yaml.safe_load(config.read_text())
    assert document["model"] == "x" and document["isokron"]["dsn"] == dsn
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
