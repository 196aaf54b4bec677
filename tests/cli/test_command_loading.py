"""`auditor` imports a command's modules when the command is asked for (auditor.cli.COMMANDS): the
table must name every command and every module that adds to it, and a command that asks for nothing
heavy (the version) starts without the database layer or pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

import auditor.cli as cli_package
from auditor.cli import COMMANDS, cli


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
