"""`isokron setup`, `workspace`, `charter`, `policy` end to end, then a turn; `isokron up`."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from isokron import AsyncIsoKron
from isokron.embedded import run_coro_sync
from isokron.ops.cli import main

CHARTER_MD = """# Acme Role Charter v1.0.0

## Identity
You are Kora, the operations coordinator of Acme Corp.

## Authority: can do
- Delegate engineering work to SEA
- Record route decisions in the scratchpad

## Authority: cannot do
- Change policies, the charter or the constitution

## Escalation triggers
- Anything touching billing

## Effective date
From 2026-12-01 until superseded.
"""

CHARTER_YAML = """charter_version: "1.1.0"
sections:
  identity: You are Kora, the release coordinator of Acme Corp.
  authority_can_do:
    - Cut release branches
  authority_cannot_do:
    - Deploy on Fridays
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def exports(out: str) -> dict[str, str]:
    """The `export NAME=VALUE` lines of an output, unquoted as a shell would."""
    found = {}
    for line in out.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            found[name] = shlex.split(value)[0]
    return found


async def _drop_roles(admin_dsn: str, *roles: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        for role in roles:
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


@pytest.fixture
def logins(empty_db):
    """Two login names of this test's own (roles are cluster-wide); dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    names = (f"ik_rt_{tag}", f"ik_op_{tag}")
    yield names
    run_coro_sync(_drop_roles(empty_db.cluster.admin_dsn, *names))


async def test_setup_then_workspace_charter_policy_then_a_turn(empty_db, logins, tmp_path,
                                                               capsys, monkeypatch):
    """From an empty database to a verified identity block and stored messages."""
    runtime_login, operator_login = logins
    owner = empty_db.dsn
    monkeypatch.setenv("ISOKRON_RUNTIME_PASSWORD", "rt-pass-from-env")
    monkeypatch.delenv("ISOKRON_OPERATOR_PASSWORD", raising=False)
    setup = ["setup", "--dsn", owner, "--runtime-login", runtime_login,
             "--operator-login", operator_login]

    def cli(*argv: str) -> tuple[int, str, str]:
        return run(list(argv), capsys)

    code, out, err = await asyncio.to_thread(cli, *setup)
    assert code == 0, err
    assert "schema: applied" in out
    assert f"runtime login {runtime_login} (isokron_runtime): created, password from " \
           f"$ISOKRON_RUNTIME_PASSWORD" in out
    assert f"operator login {operator_login} (isokron_sweeper): created, password " \
           f"generated" in out
    dsns = exports(out)
    runtime, operator = dsns["ISOKRON_DSN"], dsns["ISOKRON_OPERATOR_DSN"]
    assert "rt-pass-from-env" in runtime and f"{operator_login}:" in operator

    # Idempotent: nothing migrated, no password changed (none printed).
    monkeypatch.delenv("ISOKRON_RUNTIME_PASSWORD")
    code, again, err = await asyncio.to_thread(cli, *setup)
    assert code == 0, err
    assert "schema: up to date" in again and again.count("exists, password unchanged") == 2
    assert "rt-pass-from-env" not in again
    assert operator.split("@")[0].split(":")[-1] not in again
    conn = await asyncpg.connect(operator)  # the operator's password still works
    await conn.close()

    charter = tmp_path / "charter.md"
    charter.write_text(CHARTER_MD, encoding="utf-8")
    for argv, expected in [
        (["workspace", "add", "org_x"], "workspace org_x (a root): created"),
        (["workspace", "add", "team_y", "--parent", "org_x"], "team_y under org_x: created"),
        (["workspace", "add", "org_x"], "exists, unchanged"),
        (["charter", "set", "org_x", str(charter)], "charter of org_x: created, v1.0.0"),
        (["charter", "set", "org_x", str(charter)], "charter of org_x: unchanged"),
        (["policy", "set", "org_x", "kora.disabled", "false"],
         "policy policy.kora_disabled of org_x = false: created"),
        (["policy", "set", "org_x", "policy.kora_rate_limit_per_minute", "30"], ": created"),
        (["policy", "set", "org_x", "kora.rate_limit_per_minute", "45"], "= 45: updated"),
        (["policy", "set", "org_x", "kora.escalation_channel", "#ops"], '= "#ops": created'),
        (["policy", "set", "org_x", "policy.acme_region", "eu", "--custom"], '= "eu": created'),
    ]:
        code, out, err = await asyncio.to_thread(cli, *argv, "--dsn", owner)
        assert code == 0 and expected in out, (argv, out, err)
    code, out, _ = await asyncio.to_thread(cli, "workspace", "list", "--dsn", owner)
    assert re.search(r"^org_x\troot\tcharter v1\.0\.0 sha256 [0-9a-f]{12}\t4 policies$", out,
                     re.M)
    assert re.search(r"^team_y\tparent org_x\tno charter\t0 policies$", out, re.M)

    # `isokron prompt` as the runtime login shows the verified charter and the policy.
    code, out, err = await asyncio.to_thread(cli, "prompt", "--dsn", runtime,
                                             "--workspace", "org_x")
    assert code == 0, err
    assert "§1 Identity (Kora Role Charter v1.0.0)" in out
    assert "You are Kora, the operations coordinator of Acme Corp." in out
    assert "- Delegate engineering work to SEA" in out
    assert "policy.kora_disabled = false" in out and "rate_limit_per_minute = 45" in out

    # A turn through the core with the printed runtime DSN.
    async with AsyncIsoKron({"dsn": runtime, "workspace_id": "org_x"}) as kron:
        block = await kron.system_prompt_block("org_x")
        assert "operations coordinator of Acme Corp" in block
        await kron.sync_turn("org_x", "Which branch do we release from?", "From main.",
                             session_id="s1")
    conn = await asyncpg.connect(owner)
    try:
        stored = await conn.fetch("SELECT content FROM isokron.agent_messages ORDER BY seq")
    finally:
        await conn.close()
    assert [r["content"] for r in stored] == ["Which branch do we release from?", "From main."]

    # The operator login does the operator's work.
    code, out, err = await asyncio.to_thread(cli, "memory", "export", "--workspace", "org_x",
                                             "--dsn", operator)
    assert code == 0, err
    code, out, err = await asyncio.to_thread(cli, "sweep", "--once", "--dsn", operator)
    assert code == 0, err

    # --reset-passwords gives both logins new passwords, printed once.
    code, out, err = await asyncio.to_thread(cli, *setup, "--reset-passwords")
    assert code == 0 and out.count("exists, password set generated") == 2, out
    new = exports(out)["ISOKRON_DSN"]
    assert new != runtime and "rt-pass-from-env" not in new


async def test_the_provider_runs_a_turn_on_a_setup_workspace(empty_db, logins, tmp_path,
                                                             capsys):
    """The sync provider, as an agent loop uses it, on a workspace made by the CLI."""
    from isokron import IsoKronMemoryProvider

    runtime_login, operator_login = logins
    code, out, err = await asyncio.to_thread(
        run, ["setup", "--dsn", empty_db.dsn, "--runtime-login", runtime_login,
              "--operator-login", operator_login], capsys)
    assert code == 0, err
    runtime = exports(out)["ISOKRON_DSN"]
    charter = tmp_path / "charter.yaml"
    charter.write_text(CHARTER_YAML, encoding="utf-8")
    for argv in (["workspace", "add", "org_p"], ["charter", "set", "org_p", str(charter)]):
        code, out, err = await asyncio.to_thread(run, [*argv, "--dsn", empty_db.dsn], capsys)
        assert code == 0, err

    def turn() -> str:
        provider = IsoKronMemoryProvider({"dsn": runtime})
        provider.initialize("session-1", workspace_id="org_p", user_id="u_1")
        try:
            provider.on_turn_start(1, "hello")
            block = provider.system_prompt_block()
            provider.sync_turn("hello", "hi there")
        finally:
            provider.shutdown()
        return block

    block = await asyncio.to_thread(turn)
    assert "§1 Identity (Kora Role Charter v1.1.0)" in block
    assert "release coordinator of Acme Corp" in block and "- Deploy on Fridays" in block
    conn = await asyncpg.connect(empty_db.dsn)
    try:
        count = await conn.fetchval("SELECT count(*) FROM isokron.agent_messages")
    finally:
        await conn.close()
    assert count == 2


async def test_a_new_charter_supersedes_the_old_one(db, tmp_path, capsys):
    """charter set with another file replaces the active charter; YAML is rendered."""
    md, yml = tmp_path / "c.md", tmp_path / "c.yml"
    md.write_text(CHARTER_MD, encoding="utf-8")
    yml.write_text(CHARTER_YAML, encoding="utf-8")
    for argv, expected in [(["workspace", "add", "org_c"], "created"),
                           (["charter", "set", "org_c", str(md)], "created, v1.0.0"),
                           (["charter", "set", "org_c", str(yml)], "replaced, v1.1.0")]:
        code, out, err = await asyncio.to_thread(run, [*argv, "--dsn", db.dsn], capsys)
        assert code == 0 and expected in out, (out, err)
    conn = await asyncpg.connect(db.dsn)
    try:
        rows = await conn.fetch("SELECT content_jsonb ->> 'charter_version' AS v, superseded_at "
                                "FROM public.kora_role_charter WHERE workspace_id = 'org_c' "
                                "ORDER BY created_at")
    finally:
        await conn.close()
    assert [r["v"] for r in rows] == ["1.0.0", "1.1.0"]
    assert rows[0]["superseded_at"] is not None and rows[1]["superseded_at"] is None
    code, out, err = await asyncio.to_thread(run, ["prompt", "--dsn", db.runtime_dsn,
                                                   "--workspace", "org_c"], capsys)
    assert code == 0 and "release coordinator" in out, err


BAD_CHARTERS = {
    "no_title.md": ("## Identity\nYou are Kora.\n", "the first line is not"),
    "no_identity.md": ("# C v1.0.0\n\n## Authority: can do\n- x\n", "Identity section"),
    "not_an_item.md": ("# C v1.0.0\n\n## Identity\nKora\n\n## Authority: can do\nfree text\n",
                       "is not a '- ' item"),
    "twice.md": ("# C v1.0.0\n\n## Identity\nA\n\n## Identity\nB\n", "appears twice"),
    "latin1.md": (b"# C v1.0.0\n\n## Identity\nK\xf6ra\n", "not UTF-8"),
    "empty.md": ("  \n", "the file is empty"),
    "unknown.yaml": ("charter_version: '1'\nsections:\n  identity: K\n  powers: [x]\n",
                     "unknown section 'powers'"),
    "list.yaml": ("charter_version: '1'\nsections:\n  identity: K\n  authority_can_do: 3\n",
                  "must be a list of strings"),
    "broken.yaml": ("charter_version: [\n", "not valid YAML"),
    "noversion.yaml": ("sections:\n  identity: K\n", "charter_version is missing"),
    "heading.yaml": ("charter_version: '1'\nsections:\n  identity: \"K\\n## Authority: can do\"\n",
                     "may not start with '#'"),
}


async def test_bad_inputs_exit_2_naming_the_value_and_write_nothing(db, tmp_path, capsys,
                                                                   monkeypatch):
    """Every refused value: exit 2, one line naming it, no row written."""
    owner = ["--dsn", db.dsn]
    good = tmp_path / "good.md"
    good.write_text(CHARTER_MD, encoding="utf-8")
    code, _, err = await asyncio.to_thread(run, ["workspace", "add", "org_b", *owner], capsys)
    assert code == 0, err
    cases: list[tuple[list[str], str]] = [
        (["workspace", "add", "team_b", "--parent", "org_nope"], "'org_nope' does not exist"),
        (["workspace", "add", "org_b", "--parent", "org_b"], "cannot be its own parent"),
        (["workspace", "add", "*"], "'*' is reserved"),
        (["workspace", "add", "bad\x00id"], "NUL"),
        (["charter", "set", "org_nope", str(good)], "workspace 'org_nope' does not exist"),
        (["charter", "set", "org_b", str(tmp_path / "missing.md")], "no such file"),
        (["policy", "set", "org_b", "Kora.Disabled", "false"], "'Kora.Disabled'"),
        (["policy", "set", "org_b", "disabled", "false"], "'disabled'"),
        (["policy", "set", "org_b", "policy.", "false"], "'policy.'"),
        (["policy", "set", "org_b", "kora.disabled", " "], "policy value is empty"),
        (["policy", "set", "org_b", "kora.disabled", "[" * 200 + "]" * 200], "nested"),
        (["policy", "set", "org_nope", "kora.disabled", "true"], "'org_nope' does not exist"),
        (["policy", "set", "org_b", "kora.disabld", "false"],
         "unknown policy 'policy.kora_disabld' (did you mean 'policy.kora_disabled'?)"),
        (["setup", "--runtime-login", "same", "--operator-login", "same"], "must differ"),
        (["setup", "--runtime-login", "Bad-Name"], "'Bad-Name'"),
        (["setup", "--operator-login", "isokron_runtime"], "reserved"),
    ]
    for name, (content, _) in BAD_CHARTERS.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    cases += [(["charter", "set", "org_b", str(tmp_path / name)], needle)
              for name, (_, needle) in BAD_CHARTERS.items()]
    for argv, needle in cases:
        code, out, err = await asyncio.to_thread(run, [*argv, *owner], capsys)
        assert code == 2, (argv, code, out, err)
        assert needle in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert "Traceback" not in err
    monkeypatch.setenv("ISOKRON_RUNTIME_PASSWORD", "two\nlines")
    code, _, err = await asyncio.to_thread(run, ["setup", *owner], capsys)
    assert code == 2 and "$ISOKRON_RUNTIME_PASSWORD must be" in err
    conn = await asyncpg.connect(db.dsn)
    try:
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM isokron.workspaces) AS w, (SELECT count(*) FROM "
            "public.kora_role_charter) AS c, (SELECT count(*) FROM public.kora_policy_registry)"
            " AS p, (SELECT count(*) FROM pg_roles WHERE rolname = 'same') AS r")
    finally:
        await conn.close()
    assert dict(counts) == {"w": 1, "c": 0, "p": 0, "r": 0}


async def test_an_existing_workspace_keeps_its_parent(db, capsys):
    """Re-adding a workspace under another parent is refused (no move between trees)."""
    for argv in (["workspace", "add", "org_1"], ["workspace", "add", "org_2"],
                 ["workspace", "add", "team_1", "--parent", "org_1"]):
        code, _, err = await asyncio.to_thread(run, [*argv, "--dsn", db.dsn], capsys)
        assert code == 0, err
    code, _, err = await asyncio.to_thread(
        run, ["workspace", "add", "team_1", "--parent", "org_2", "--dsn", db.dsn], capsys)
    assert code == 2 and "exists with parent 'org_1', not 'org_2'" in err


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(marker):
            return "".join(seen)
    raise AssertionError(f"no {marker!r} line; output so far: {''.join(seen)}")


@pytest.fixture
def cluster_dir():
    """A directory outside pytest's tmp root: run as root, the server runs as pgserver,
    and a concurrent pytest session resets that root's mode to 0700."""
    path = Path(tempfile.mkdtemp(prefix="isokron-up-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _up(data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "isokron.ops.cli", "up", "--data-dir",
                             str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def _stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    return proc.returncode, rest


def test_up_serves_until_ctrl_c_and_keeps_its_data(cluster_dir):
    """`isokron up`: DSNs printed, each connects; SIGINT -> "stopped", exit 130, no
    traceback; the next `up` on the directory finds what the first one stored."""
    data_dir = cluster_dir / "cluster"
    proc = _up(data_dir)
    try:
        out = _read_until(proc, "export ISOKRON_OPERATOR_DSN=", 180)
        dsns = exports(out)
        assert set(dsns) == {"ISOKRON_OWNER_DSN", "ISOKRON_DSN", "ISOKRON_OPERATOR_DSN"}

        async def check() -> dict[str, str]:
            users = {}
            for name, value in dsns.items():
                conn = await asyncpg.connect(value)
                try:
                    users[name] = await conn.fetchval("SELECT current_user")
                finally:
                    await conn.close()
            return users

        assert asyncio.run(check()) == {"ISOKRON_OWNER_DSN": "postgres",
                                        "ISOKRON_DSN": "isokron_app",
                                        "ISOKRON_OPERATOR_DSN": "isokron_operator"}
        assert main(["workspace", "add", "org_kept", "--dsn", dsns["ISOKRON_OWNER_DSN"]]) == 0
    finally:
        code, rest = _stop(proc)
    assert code == 130 and rest.strip().splitlines()[-1] == "stopped", rest
    assert "Traceback" not in out + rest
    assert (data_dir / "pgdata" / "PG_VERSION").exists()

    proc = _up(data_dir)
    try:
        out = _read_until(proc, "export ISOKRON_OPERATOR_DSN=", 180)
        owner = exports(out)["ISOKRON_OWNER_DSN"]

        async def kept() -> object:
            conn = await asyncpg.connect(owner)
            try:
                return await conn.fetchval("SELECT workspace_id FROM isokron.workspaces")
            finally:
                await conn.close()

        assert asyncio.run(kept()) == "org_kept"
    finally:
        code, rest = _stop(proc)
    assert code == 130 and "Traceback" not in out + rest


async def test_owner_commands_as_another_login_say_which_dsn_to_use(db, tmp_path, capsys):
    """The runtime login may not set up, add workspaces or list them: exit 1, one line."""
    good = tmp_path / "good.md"
    good.write_text(CHARTER_MD, encoding="utf-8")
    for argv, needle in [
        (["setup"], "may not create roles: setup needs the owner's DSN"),
        (["workspace", "add", "org_r"], "ISOKRON_OWNER_DSN"),
        (["workspace", "list"], "only a superuser sees every workspace"),
        (["policy", "set", "org_r", "kora.disabled", "true"], "ISOKRON_OWNER_DSN"),
    ]:
        code, _, err = await asyncio.to_thread(run, [*argv, "--dsn", db.runtime_dsn], capsys)
        assert code == 1 and needle in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert db.runtime_dsn.split("@")[0].split(":")[-1] not in err  # no password shown


def test_up_stops_on_sigterm_too(cluster_dir):
    """SIGTERM: the server stops, "stopped", exit status 143."""
    proc = _up(cluster_dir / "c")
    try:
        out = _read_until(proc, "export ISOKRON_OPERATOR_DSN=", 180)
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143 and rest.strip().splitlines()[-1] == "stopped", rest
    assert "Traceback" not in out + rest
