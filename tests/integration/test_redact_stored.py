"""A secret as a JSON key, a card number and ``password=`` in metadata: the stored rows,
read back with raw SQL as the owner, hold none of them."""

from __future__ import annotations

from isokron.integrations.openai_agents import IsoKronSession
from isokron.ops.bench.secret_corpus import GH, OPENAI, PW, STRIPE, VISA
from isokron.stores import NamespaceMemory, RequestContext


async def _everything(owner) -> str:
    """Every row of every table in isokron's schema, as text."""
    tables = await owner.fetch(
        "SELECT format('%I.%I', n.nspname, c.relname) AS t FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
        "AND n.nspname = 'isokron'")
    dumps = [await owner.fetchval(f"SELECT coalesce(string_agg(t::text, E'\\n'), '') "
                                  f"FROM {r['t']} t") for r in tables]
    return "\n".join(dumps)


def _spaced(card: str) -> str:
    return " ".join(card[i:i + 4] for i in range(0, len(card), 4))


async def test_a_secret_json_key_in_a_session_item_is_not_stored(runtime_pool, owner):
    session = IsoKronSession("conv-secret-key", runtime_pool, RequestContext("tenant_a", "alice"))
    await session.add_items([
        {"type": "function_call", "call_id": "c1", "name": "lookup", "status": "completed",
         "arguments": "{}", GH: "the token is the key"},
        {"type": "function_call_output", "call_id": "c1",
         "output": {f"password={PW}": True, "nested": [{STRIPE: 1}]}},
        {"role": "user", "content": f"my key is {OPENAI}"},
    ])
    stored = await _everything(owner)
    assert "[REDACTED:GITHUB_TOKEN]" in stored
    for secret in (GH, PW, STRIPE, OPENAI, GH[8:], STRIPE[8:]):
        assert secret not in stored, secret
    items = await session.get_items()
    assert len(items) == 3 and "[REDACTED:GITHUB_TOKEN]" in items[0]
    assert items[0]["call_id"] == "c1" and items[0]["name"] == "lookup"  # the rest kept


async def test_a_card_number_and_a_password_in_namespace_metadata_are_not_stored(
        runtime_pool, owner):
    await owner.execute("INSERT INTO isokron.workspaces (workspace_id) VALUES ('ws_meta')")
    memory = NamespaceMemory(runtime_pool)
    await memory.commit("ws_meta", "a note")
    patched = await memory.patch_namespace("ws_meta", "workspace:ws_meta", metadata={
        "billing": f"card {_spaced(VISA)} on file", "dsn": f"host=db user=app password={PW}",
        "card": int(VISA), GH: "a key", "purpose": "scratch"})
    stored = await _everything(owner)
    for secret in (VISA, _spaced(VISA), PW, GH):
        assert secret not in stored, secret
    meta = await owner.fetchval("SELECT metadata FROM isokron.memory_namespaces "
                                "WHERE name = 'workspace:ws_meta'")
    assert "[REDACTED:CARD_NUMBER]" in meta and "[REDACTED:PASSWORD]" in meta
    assert '"purpose": "scratch"' in meta
    assert patched["metadata"]["purpose"] == "scratch"
