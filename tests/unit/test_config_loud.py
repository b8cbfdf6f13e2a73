"""Issue 25: a bad configuration is loud. The direct APIs raise a ConfigError naming the
key (with "did you mean" for a near miss) or the unset variable; the provider, which must
not crash its host, is unavailable with the same message, logged once at ERROR."""

from __future__ import annotations

import json
import logging

import pytest

from isokron import AsyncIsoKron, ConfigError, IsoKronConfig, IsoKronMemoryProvider, load_config
from isokron.guard.settings import suggest_key, unknown_keys_error
from isokron.testing import InMemorySubstrate
from tests.unit.helpers import RecordingTransport

DSN = "postgresql://u:pw@127.0.0.1:1/db"
NEAR_MISS = {"dsn": DSN, "workspace_id": "org_demo", "cache_ttl_secnds": 5}
SUGGESTION = "did you mean 'cache_ttl_seconds'?"


def _unset_dsn_file(tmp_path, monkeypatch):
    monkeypatch.delenv("ISOKRON_DSN", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text("memory: {provider: isokron}\n"
                    "isokron: {dsn: '${ISOKRON_DSN}', workspace_id: org_demo}\n")
    return path


@pytest.mark.parametrize("build", [
    lambda: load_config(NEAR_MISS),
    lambda: IsoKronConfig(**NEAR_MISS),
    lambda: AsyncIsoKron(NEAR_MISS),
], ids=["load_config", "IsoKronConfig", "AsyncIsoKron"])
def test_a_mistyped_key_raises_naming_it_and_the_near_miss(build):
    with pytest.raises(ConfigError, match=SUGGESTION.replace("?", r"\?")) as caught:
        build()
    assert caught.value.key == "cache_ttl_secnds"
    assert "cache_ttl_secnds" in str(caught.value)


def test_an_unrelated_key_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known: actor_kind") as caught:
        load_config({"dsn": DSN, "zzzz": 1})
    assert caught.value.key == "zzzz" and "did you mean" not in str(caught.value)


def test_several_unknown_keys_are_all_named():
    error = unknown_keys_error({"pool_max_sise", "recall_limt"}, IsoKronConfig.field_names())
    assert "'pool_max_sise' (did you mean 'pool_max_size'?)" in str(error)
    assert "'recall_limt' (did you mean 'recall_limit'?)" in str(error)
    assert error.key == "pool_max_sise" and str(error).startswith("unknown isokron settings")
    assert suggest_key("dns", ["dsn", "user_id"]) == "dsn"
    assert suggest_key("qqqq", ["dsn"]) is None


@pytest.mark.parametrize("build", [load_config, AsyncIsoKron], ids=["load_config", "AsyncIsoKron"])
def test_an_unset_variable_raises_naming_it(build, tmp_path, monkeypatch):
    path = _unset_dsn_file(tmp_path, monkeypatch)
    with pytest.raises(ConfigError, match="environment variable ISOKRON_DSN is not set"):
        build(path)


def _drive(provider: IsoKronMemoryProvider) -> str:
    """Every hook a host calls in a turn; returns what the agent would be told."""
    provider.initialize("s1", workspace_id="org_demo")
    provider.on_turn_start(1, "hello")
    block = provider.system_prompt_block()
    provider.sync_turn("hello", "hi")
    assert provider.prefetch("hello") == ""
    provider.on_session_end([])
    provider.shutdown()
    return block


@pytest.mark.parametrize("source", ["near_miss", "unset_variable"])
def test_the_provider_is_unavailable_with_the_reason_logged_once(source, tmp_path, monkeypatch,
                                                                 caplog):
    config = NEAR_MISS if source == "near_miss" else _unset_dsn_file(tmp_path, monkeypatch)
    expected = SUGGESTION if source == "near_miss" else "ISOKRON_DSN is not set"
    with caplog.at_level(logging.DEBUG, logger="isokron"):
        provider = IsoKronMemoryProvider(config, substrate=InMemorySubstrate.with_demo_workspace(),
                                         transport=RecordingTransport())
        assert _drive(provider) == ""
        envelope = json.loads(provider.handle_tool_call("isokron_memory_search", {"query": "x"}))
    assert not provider.is_available()
    reason = provider.unavailable_reason()
    assert reason is not None and expected in reason
    assert provider.recall_status() == {"available": False, "reason": reason}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and expected in errors[0].getMessage(), caplog.text
    assert "no workspace" not in caplog.text and "not initialized" not in caplog.text
    assert envelope["ok"] is False and envelope["error"]["type"] == "ConfigError"
    assert expected in envelope["error"]["message"]


def test_no_configuration_at_all_is_reported_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HERMES_HOME", str(tmp_path))
    monkeypatch.delenv("ISOKRON_CONFIG", raising=False)
    with caplog.at_level(logging.DEBUG, logger="isokron"):
        provider = IsoKronMemoryProvider()
        _drive(provider)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "is absent" in errors[0].getMessage()
    assert "is absent" in (provider.unavailable_reason() or "")


def test_a_missing_workspace_is_named_as_such(caplog):
    """With a good config and no workspace, the warning says what is missing."""
    provider = IsoKronMemoryProvider({"dsn": DSN}, substrate=InMemorySubstrate(),
                                     transport=RecordingTransport())
    provider.initialize("s1")
    with caplog.at_level(logging.WARNING, logger="isokron"):
        provider.on_turn_start(1, "hello")
    assert "no workspace (pass workspace_id" in caplog.text
    provider.shutdown()


def test_a_mistyped_provider_name_gets_a_suggestion():
    from isokron.registry import load_provider

    with pytest.raises(ConfigError, match=r"did you mean 'isokron'\?") as caught:
        load_provider({"memory": {"provider": "isokorn"}})
    assert caught.value.key == "memory.provider"
