"""hermes-install cannot half-succeed; the manifest has Hermes's shape; lock mode."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
import yaml

from isokron import IsoKronMemoryProvider
from isokron.integrations.hermes import HOOKS, HermesNotFoundError, install_plugin
from isokron.ops.cli import main
from isokron.testing import InMemorySubstrate
from tests.unit.helpers import DSN, RecordingTransport

_CLONE = Path(__file__).resolve().parents[2]  # the tests run from a clone


def test_a_python_that_cannot_import_isokron_writes_nothing(tmp_path, capsys):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(HermesNotFoundError, match=rf"{fake} -m pip install '{_CLONE}'"):
        install_plugin(tmp_path / "home", python=fake)
    assert not (tmp_path / "home" / "plugins").exists()
    assert main(["hermes-install", "--home", str(tmp_path / "h2"), "--python", str(fake)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"-m pip install '{_CLONE}'" in err[0]


def test_without_hermes_on_path_it_asks_for_python(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HermesNotFoundError, match="pass --python"):
        install_plugin(tmp_path / "home")


def test_the_hermes_executable_names_its_python(tmp_path, monkeypatch):
    hermes = tmp_path / "hermes"
    hermes.write_text(f"#!{sys.executable}\nprint('hermes')\n")
    hermes.chmod(hermes.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    folder = install_plugin(tmp_path / "home")
    manifest = yaml.safe_load((folder / "plugin.yaml").read_text())
    assert set(manifest) == {"name", "version", "description", "pip_dependencies", "hooks"}
    assert manifest["name"] == "isokron" and manifest["hooks"] == list(HOOKS)
    assert manifest["pip_dependencies"][0].startswith("isokron")


def test_the_written_plugin_warns_naming_the_missing_module(tmp_path, monkeypatch, caplog):
    """Imported where isokron is missing: a WARNING names the module; nothing registers."""
    import importlib.util
    import logging

    folder = install_plugin(tmp_path / "home", python=sys.executable)
    monkeypatch.setitem(sys.modules, "isokron", None)  # `import isokron` now fails
    spec = importlib.util.spec_from_file_location("plugin_under_test", folder / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    with caplog.at_level(logging.WARNING, logger="isokron"):
        spec.loader.exec_module(module)
    assert "cannot import 'isokron'" in caplog.text
    assert f"{sys.executable} -m pip install '{_CLONE}'" in caplog.text
    registered = []
    module.register(type("Ctx", (), {"register_memory_provider": registered.append})())
    assert registered == []


def _locked_provider(fake):
    p = IsoKronMemoryProvider({"dsn": DSN, "write_transport": "substrate"}, substrate=fake,
                              transport=RecordingTransport(), integrity_failure="lock")
    p.initialize("s1", workspace_id="org_demo")
    return p


def test_lock_mode_serves_a_locked_block_refuses_tools_and_unlocks_when_verified():
    fake = InMemorySubstrate.with_demo_workspace()
    good = dict(fake.charters["org_demo"])
    fake.put_charter("org_demo", {"identity": "x"}, charter_version="1", content_hash="bad")
    p = _locked_provider(fake)
    p.on_turn_start(1, "go")  # no exception: locked instead
    block = p.system_prompt_block()
    assert block.startswith("§0 Identity unverified") and "escalate" in block
    out = json.loads(p.handle_tool_call("isokron_memory_search", {"query": "x"}))
    assert out["ok"] is False and out["error"]["type"] == "IdentityLocked"
    assert p.prefetch("anything") == ""
    assert "identity locked" in p.unavailable_reason()
    p.sync_turn("hi", "there")  # suppressed while locked
    fake.charters["org_demo"] = good  # verified again: unlocked on the next turn
    p.on_turn_start(2, "go")
    assert p.system_prompt_block().startswith("§1 Identity")
    assert json.loads(p.handle_tool_call("isokron_memory_namespaces", {}))["error"][
        "type"] != "IdentityLocked"
    p.shutdown()


def test_raise_stays_the_library_default():
    from isokron.errors import RoleCharterIntegrityError

    fake = InMemorySubstrate.with_demo_workspace()
    fake.put_charter("org_demo", {"identity": "x"}, charter_version="1", content_hash="bad")
    p = IsoKronMemoryProvider({"dsn": DSN}, substrate=fake, transport=RecordingTransport())
    p.initialize("s1", workspace_id="org_demo")
    with pytest.raises(RoleCharterIntegrityError):
        p.on_turn_start(1, "go")
    p.shutdown()


def test_the_rest_of_hermes_contract():
    p = IsoKronMemoryProvider({"dsn": DSN}, substrate=InMemorySubstrate.with_demo_workspace(),
                              transport=RecordingTransport())
    p.initialize_for_inspection("s1", workspace_id="org_demo")
    assert p.writes_allowed is False and p.backup_paths() == []
    assert p.unavailable_reason() is None and p.recall_status()["available"] is True
    p.on_turn_start(1, "hello")
    p.on_session_switch("s2", rewound=True)
    assert p.session_context() is None  # caches dropped after an undo
    p.shutdown()
    broken = IsoKronMemoryProvider({"dsn": "mysql://nope"})
    assert broken.unavailable_reason().startswith("not configured: ")
