"""Pin configuration loading and its errors."""

from __future__ import annotations

import logging

import pytest

from isokron import ConfigError, IsoKronConfig, load_config, load_provider
from isokron.provider import IsoKronMemoryProvider
from tests.unit.helpers import DSN


def test_defaults_match_the_contract():
    """Every default is the one API.md documents."""
    cfg = load_config({"dsn": DSN})
    assert (cfg.actor_kind, cfg.cache_ttl_seconds, cfg.pool_min_size, cfg.pool_max_size) == (
        "kora", 60, 1, 4)
    assert (cfg.statement_timeout_ms, cfg.prefetch_timeout_s, cfg.stale_if_error_seconds) == (
        5000, 10.0, 300)
    assert (cfg.write_transport, cfg.scratchpad_limit, cfg.recent_event_limit) == (
        "deferred", 100, 50)
    assert cfg.workspace_id is None


def test_yaml_file_with_isokron_section_and_env_vars(tmp_path, monkeypatch):
    """A config.yaml selects the provider and ${VAR} is expanded (numbers coerced)."""
    monkeypatch.setenv("KR_DSN", DSN)
    monkeypatch.setenv("KR_POOL", "8")
    path = tmp_path / "config.yaml"
    path.write_text("memory: {provider: isokron}\nisokron:\n  dsn: ${KR_DSN}\n"
                    "  pool_max_size: ${KR_POOL}\n  workspace_id: org_demo\n")
    cfg = load_config(path)
    assert cfg.dsn == DSN and cfg.pool_max_size == 8 and cfg.workspace_id == "org_demo"


def test_plugin_entries_section_is_read(tmp_path):
    """Settings under plugins.entries.isokron are accepted."""
    cfg = load_config({"memory": {"provider": "isokron"},
                       "plugins": {"entries": {"isokron": {"dsn": DSN, "actor_kind": "sea"}}}})
    assert cfg.actor_kind == "sea"


@pytest.mark.parametrize(
    ("settings", "key", "fragment"),
    [
        ({"dsn": "${KR_UNSET_VAR}"}, "dsn", "KR_UNSET_VAR is not set"),
        ({"dsn": DSN, "pool_size": 3}, "pool_size", "unknown isokron setting"),
        ({"dsn": DSN, "pool_max_size": 0}, "pool_max_size", ">= 1"),
        ({"dsn": DSN, "cache_ttl_seconds": -1}, "cache_ttl_seconds", ">= 0"),
        ({"dsn": DSN, "prefetch_timeout_s": 0}, "prefetch_timeout_s", "> 0"),
        ({"dsn": DSN, "write_transport": "carrier-pigeon"}, "write_transport", "one of"),
        ({"dsn": DSN, "pool_min_size": 9}, "pool_min_size", "must not exceed"),
        ({"dsn": DSN, "pool_max_size": "many"}, "pool_max_size", "must be a number"),
        ({"dsn": DSN, "scratchpad_limit": True}, "scratchpad_limit", "integer"),
        ({"dsn": "mysql://u:pw@h/db"}, "dsn", "postgres://"),
        ({}, "dsn", "required"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_key(settings, key, fragment):
    """Each bad input is a ConfigError whose key names the setting."""
    with pytest.raises(ConfigError, match=fragment) as info:
        load_config(settings)
    assert info.value.key == key


def test_wrong_provider_is_rejected():
    """A config whose memory.provider is not isokron is a ConfigError."""
    with pytest.raises(ConfigError, match="memory.provider"):
        load_config({"memory": {"provider": "mem0"}, "isokron": {"dsn": DSN}})


def test_dsn_password_never_appears_in_repr_or_errors(caplog):
    """The config repr and a bad-scheme error redact the password."""
    assert "s3cret" not in repr(load_config({"dsn": DSN}))
    with pytest.raises(ConfigError) as info:
        load_config({"dsn": "mysql://u:s3cret@h/db"})
    assert "s3cret" not in str(info.value)


def test_missing_config_file_is_a_config_error(tmp_path):
    """A path that does not exist names itself."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_load_provider_uses_the_entry_point():
    """memory.provider: isokron instantiates IsoKronMemoryProvider via entry points."""
    provider = load_provider({"memory": {"provider": "isokron"}, "isokron": {"dsn": DSN}})
    assert isinstance(provider, IsoKronMemoryProvider)
    assert provider.name == "isokron" and provider.is_available()


def test_load_provider_unknown_name_lists_known_ones():
    """An unregistered provider name is a ConfigError listing the registered names."""
    with pytest.raises(ConfigError, match="known: isokron"):
        load_provider({"memory": {"provider": "honcho"}})


def test_provider_without_config_is_unavailable_and_quiet(tmp_path, monkeypatch, caplog):
    """No config anywhere: is_available() is False and hooks do nothing."""
    monkeypatch.setenv("HERMES_HOME", str(tmp_path))
    monkeypatch.delenv("ISOKRON_CONFIG", raising=False)
    with caplog.at_level(logging.ERROR):
        provider = IsoKronMemoryProvider()
        provider.initialize("s1")
    assert not provider.is_available()
    assert provider.system_prompt_block() == ""
    provider.on_turn_start(1, "hi")
    provider.sync_turn("a", "b")
    provider.shutdown()


def test_config_is_frozen():
    """IsoKronConfig cannot be mutated."""
    cfg = IsoKronConfig(dsn=DSN)
    with pytest.raises(AttributeError):
        cfg.dsn = "postgresql://x"  # type: ignore[misc]


def test_other_sections_variables_are_not_expanded(tmp_path, monkeypatch):
    """An unset ${VAR} in another tool's section of config.yaml is none of isokron's business."""
    monkeypatch.delenv("SOME_OTHER_TOOL_KEY", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text("model: {api_key: '${SOME_OTHER_TOOL_KEY}'}\nmemory: {provider: isokron}\n"
                    f"isokron: {{dsn: '{DSN}'}}\n")
    assert load_config(path).dsn == DSN


def test_quota_keys_have_defaults_descriptions_checks_and_the_readme_table():
    """quota_* are known keys with the documented defaults (README "Quotas" and the SQL
    defaults row), each described, settable small, refused below 1 (result: 1024)."""
    import re
    from pathlib import Path

    from isokron.config import config_schema, load_config
    from isokron.errors import ConfigError
    from isokron.guard.quotas import QUOTA_DEFAULTS

    config = load_config({"dsn": "postgres://h/db"})
    assert config.quotas() == QUOTA_DEFAULTS
    described = {item["key"]: item for item in config_schema()}
    for key, default in QUOTA_DEFAULTS.items():
        assert described[key]["default"] == default and described[key]["description"] != key
        small = 1024 if key == "quota_result_bytes" else 1
        assert getattr(load_config({"dsn": "postgres://h/db", key: str(small)}), key) == small
        with pytest.raises(ConfigError) as exc:
            load_config({"dsn": "postgres://h/db", key: small - 1})
        assert exc.value.key == key
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| `(quota_[a-z_]+)` \| (\d+)", readme, re.M))
    assert {k: int(v) for k, v in table.items()} == QUOTA_DEFAULTS
    schema = Path(__file__).resolve().parents[2] / "isokron/schema"
    keys = list(QUOTA_DEFAULTS)
    at_0028 = dict(QUOTA_DEFAULTS, quota_memory_bytes=256 * 1024 * 1024)  # 0030 raised it
    sql = (schema / "0028_quotas.sql").read_text()
    assert f"VALUES ('*', {', '.join(str(at_0028[k]) for k in keys[:7])});" in sql
    gaps = (schema / "0030_quota_gaps.sql").read_text()  # the keys 0030 added
    for key in keys[7:]:
        assert f"{key.removeprefix('quota_')} = {QUOTA_DEFAULTS[key]}" in gaps, key
    assert f"THEN {QUOTA_DEFAULTS['quota_memory_bytes']} ELSE memory_bytes" in gaps


def test_dedup_keys_default_validate_and_are_described(tmp_path, monkeypatch):
    """dedup is keep (default) or merge; dedup_threshold a cosine similarity in (0, 1]
    (default 0.95, 1 allowed, ${VAR} coerced); a bad value is a ConfigError naming the key
    and the value."""
    from isokron.config import config_schema

    cfg = load_config({"dsn": DSN})
    assert (cfg.dedup, cfg.dedup_threshold) == ("keep", 0.95)
    cfg = load_config({"dsn": DSN, "dedup": "merge", "dedup_threshold": 1})
    assert (cfg.dedup, cfg.dedup_threshold) == ("merge", 1)
    monkeypatch.setenv("KR_DEDUP_T", "0.9")
    path = tmp_path / "config.yaml"
    path.write_text(f"isokron:\n  dsn: {DSN}\n  dedup_threshold: ${{KR_DEDUP_T}}\n")
    assert load_config(path).dedup_threshold == 0.9
    for key, value, fragment in (("dedup", "fold", "one of keep, merge; got 'fold'"),
                                 ("dedup", True, "one of keep, merge"),
                                 ("dedup_threshold", 0, r"in \(0, 1\].*got 0"),
                                 ("dedup_threshold", -0.5, r"got -0\.5"),
                                 ("dedup_threshold", 1.01, r"got 1\.01"),
                                 ("dedup_threshold", "high", "got 'high'"),
                                 ("dedup_threshold", True, "got True")):
        with pytest.raises(ConfigError, match=fragment) as info:
            load_config({"dsn": DSN, key: value})
        assert info.value.key == key
    described = {item["key"]: item for item in config_schema()}
    assert described["dedup"]["default"] == "keep" and "merge" in described["dedup"][
        "description"]
    assert described["dedup_threshold"]["default"] == 0.95
    assert "cosine" in described["dedup_threshold"]["description"]
