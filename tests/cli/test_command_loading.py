"""`auditor` imports a command's modules when the command is asked for (auditor.cli.COMMANDS): the
table must name every command and every module that adds to it, and a command that asks for nothing
heavy (the version, the help) starts without the database layer or pandas, and the help lists each
command as click would from the loaded command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

import auditor.cli as cli_package
from auditor.cli import COMMANDS, SUMMARIES, cli


def _modules(command: click.Command) -> set[str]:
    found = {command.callback.__module__.rsplit(".", 1)[-1]}
    for sub in getattr(command, "commands", {}).values():
        found |= _modules(sub)
    return found


def test_the_table_names_every_command_and_every_module_that_adds_to_it():
    for name in COMMANDS:  # as `auditor NAME` asks for it
        assert cli.get_command(click.Context(cli), name) is not None, name
    assert set(cli.commands) == set(COMMANDS)
    for name, command in cli.commands.items():
        assert _modules(command) == set(COMMANDS[name]), name


def test_every_command_module_is_in_the_table():
    modules = {p.stem for p in Path(cli_package.__path__[0]).glob("*.py")
               if p.stem.endswith("_commands") or p.stem == "demo"}
    assert modules == {m for found in COMMANDS.values() for m in found}


def _fresh(*args: str) -> subprocess.CompletedProcess:
    code = ("import sys\nfrom auditor.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n"
            "    print('exit', done.code)\n"
            "print('loaded', sorted(m for m in ('pandas', 'sqlalchemy', 'alembic') if m in sys.modules))\n")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_the_version_starts_without_the_database_layer():
    done = _fresh("--version")
    assert "auditor, version" in done.stdout and "exit 0" in done.stdout
    assert "loaded []" in done.stdout, done.stdout


def test_a_subcommand_another_module_adds_is_found_in_a_fresh_process():
    done = _fresh("audit", "verify-archive", "--help")  # `audit` is audit_commands'; this one retention_commands'
    assert "Usage: auditor audit verify-archive" in done.stdout and "exit 0" in done.stdout
    unknown = _fresh("no-such-command")
    assert "exit 2" in unknown.stdout and unknown.stderr.strip().count("\n") == 0
    assert "No such command" in unknown.stderr


def test_each_summary_is_its_command_s_own_help():
    assert set(SUMMARIES) == set(COMMANDS)
    for name in COMMANDS:
        assert SUMMARIES[name] == cli.get_command(click.Context(cli), name).get_short_help_str(limit=10_000), name


@pytest.mark.parametrize("width", [50, 80, 200])
def test_the_commands_are_listed_as_click_lists_them_from_the_loaded_commands(width):
    for name in COMMANDS:
        cli.get_command(click.Context(cli), name)
    listed = []
    for format_commands in (click.Group.format_commands, type(cli).format_commands):
        formatter = click.HelpFormatter(width=width)
        format_commands(cli, click.Context(cli, info_name="auditor"), formatter)
        listed.append(formatter.getvalue())
    assert listed[0] == listed[1] and listed[0].count("\n") >= len(COMMANDS)


def test_the_help_starts_without_the_database_layer():
    done = _fresh("--help")
    assert "exit 0" in done.stdout and "loaded []" in done.stdout, done.stdout
    assert all(f"  {name} " in done.stdout for name in COMMANDS)
