"""Issue 25: the CLI's failures say what to do next."""

from __future__ import annotations

import pytest

from isokron.ops.cli import main


def _one_line(capsys) -> str:
    """The error: one line, after at most the progress lines of the steps that ran."""
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "nothing on stderr"
    progress = [line for line in err[:-1] if "%" in line or " items" in line]
    assert progress == err[:-1], err
    return err[-1]


@pytest.mark.parametrize("argv", [["prompt", "--workspace", "org_demo"], ["doctor"]])
def test_an_unmigrated_database_says_run_migrate(empty_db, capsys, argv):
    code = main([*argv, "--dsn", empty_db.dsn])
    line = _one_line(capsys) if argv[0] == "prompt" else capsys.readouterr().out
    assert code != 0 and "isokron migrate" in line, line


def test_prompt_names_the_missing_schema_and_the_fix(empty_db, capsys):
    assert main(["prompt", "--workspace", "org_demo", "--dsn", empty_db.dsn]) == 1
    line = _one_line(capsys)
    print(line)
    assert "not migrated" in line and "run `isokron migrate`" in line


@pytest.mark.parametrize("argv", [["memory", "export", "--workspace", "org_demo"]])
def test_export_as_the_runtime_login_says_which_role_it_needs(db, capsys, argv):
    assert main([*argv, "--dsn", db.runtime_dsn]) == 1
    line = _one_line(capsys)
    print(line)
    assert "operator" in line, line


def _exported(db, tmp_path, capsys):
    from isokron.embedded import run_coro_sync
    from tests.integration.test_config_loud_pg import _seed

    run_coro_sync(_seed(db.dsn))
    out = tmp_path / "export.jsonl"
    assert main(["memory", "export", "--workspace", "org_demo", "--out", str(out),
                 "--dsn", db.dsn]) == 0
    capsys.readouterr()
    return out


def test_import_as_the_runtime_login_says_it_needs_the_owner(db, tmp_path, capsys):
    out = _exported(db, tmp_path, capsys)
    assert out.read_text().strip()
    assert main(["memory", "import", str(out), "--workspace", "org_demo",
                 "--dsn", db.runtime_dsn]) == 1
    assert "needs the schema owner's DSN" in _one_line(capsys)


def test_importing_an_empty_file_says_there_is_nothing_to_import(db, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert main(["memory", "import", str(empty), "--workspace", "org_demo",
                 "--dsn", db.dsn]) == 0
    out = capsys.readouterr().out
    assert "nothing to import" in out and "already existed" not in out


def test_importing_twice_says_how_many_already_existed(db, tmp_path, capsys):
    out = _exported(db, tmp_path, capsys)
    items = len(out.read_text().splitlines())
    for _ in range(2):
        assert main(["memory", "import", str(out), "--workspace", "org_demo",
                     "--dsn", db.dsn]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith(
        f"; {items} item(s) already existed")
