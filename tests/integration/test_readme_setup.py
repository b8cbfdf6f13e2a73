"""The README's "Production setup" section: its commands run in order, as written, in a shell.

Two substitutions only: the owner DSN the section exports is this test's database, and
`setup` gets login names of this test's own (roles are cluster-wide; dropped afterwards).
`isokron up` runs with HOME in a temporary directory and is stopped with SIGINT.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from isokron.embedded import run_coro_sync
from isokron.ops.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"
OWNER_EXPORT = "export ISOKRON_OWNER_DSN="


def _section(title: str) -> str:
    """The section's text, up to the next ``## `` heading outside a code block."""
    lines = README.read_text(encoding="utf-8").split("\n")
    start = lines.index(f"## {title}")
    fenced = False
    for end in range(start + 1, len(lines)):
        if lines[end].startswith("```"):
            fenced = not fenced
        elif lines[end].startswith("## ") and not fenced:
            break
    return "\n".join(lines[start:end])


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", _section("Production setup"), re.S)


def _exports(out: str) -> dict[str, str]:
    found = {}
    for line in out.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            found[name] = shlex.split(value)[0]
    return found


def _shell(line: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(["bash", "-c", line], env=env, cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, (line, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def _commands() -> list[str]:
    lines = [line.strip() for block in _blocks("bash") for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_command_of_the_section_parses(tmp_path, monkeypatch):
    """Each `isokron ...` line is a valid command line of the parser."""
    (charter,) = _blocks("markdown")
    (tmp_path / "charter.md").write_text(charter, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ISOKRON_OWNER_DSN", "postgresql://postgres@db.internal/isokron")
    commands = [c for c in _commands() if c.startswith("isokron ")]
    assert len(commands) >= 9
    parser = build_parser()
    for command in commands:
        argv = [os.path.expanduser(os.path.expandvars(a)) for a in shlex.split(command)[1:]]
        parser.parse_args(argv)


def _run_up(line: str, env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.Popen(["bash", "-c", f"exec {line}"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    try:
        for out in proc.stdout:
            seen.append(out)
            if out.startswith("export ISOKRON_OPERATOR_DSN="):
                break
        dsns = _exports("".join(seen))
        assert set(dsns) == {"ISOKRON_OWNER_DSN", "ISOKRON_DSN", "ISOKRON_OPERATOR_DSN"}, seen
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and rest.strip().splitlines()[-1] == "stopped", rest
    assert Path(env["HOME"], ".local/share/isokron/pgdata/PG_VERSION").exists()


async def _drop_roles(admin_dsn: str, *roles: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        for role in roles:
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


@pytest.fixture
def home():
    """HOME for `isokron up`, outside pytest's tmp root (run as root, the server runs as
    pgserver, and a concurrent pytest session resets that root's mode to 0700)."""
    path = Path(tempfile.mkdtemp(prefix="isokron-readme-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_production_setup_section_runs_in_order(empty_db, tmp_path, home):
    """setup -> workspaces -> charter -> policy -> list -> doctor -> prompt, then `up`."""
    (charter,) = _blocks("markdown")
    (tmp_path / "charter.md").write_text(charter, encoding="utf-8")
    tag = uuid.uuid4().hex[:8]
    logins = (f"ik_readme_rt_{tag}", f"ik_readme_op_{tag}")
    env = {**os.environ, "HOME": str(home),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "ISOKRON_OWNER_DSN": empty_db.dsn}
    for name in ("ISOKRON_DSN", "ISOKRON_RUNTIME_PASSWORD", "ISOKRON_OPERATOR_PASSWORD"):
        env.pop(name, None)
    ran = []
    try:
        for line in _commands():
            if line.startswith(OWNER_EXPORT):
                continue  # the section's example DSN: this test's database instead
            if line.startswith("isokron up"):
                _run_up(line, env, tmp_path)
            elif line.startswith("isokron setup"):
                out = _shell(f"{line} --runtime-login {logins[0]} --operator-login "
                             f"{logins[1]}", env, tmp_path)
                env.update({k: v for k, v in _exports(out).items() if k != "ISOKRON_OWNER_DSN"})
            else:
                out = _shell(line, env, tmp_path)
            ran.append((line, out))
    finally:
        run_coro_sync(_drop_roles(empty_db.cluster.admin_dsn, *logins))
    outputs = dict(ran)
    assert "doctor: healthy" in outputs["isokron doctor --dsn \"$ISOKRON_OWNER_DSN\""]
    block = outputs["isokron prompt --workspace org_acme"]
    assert "§1 Identity (Kora Role Charter v1.0.0)" in block
    assert "You are Kora, the operations coordinator of Acme." in block
    assert "policy.kora_disabled = false" in block
    listing = outputs["isokron workspace list --dsn \"$ISOKRON_OWNER_DSN\""]
    assert "team_support\tparent org_acme" in listing
