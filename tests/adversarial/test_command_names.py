"""A command name typed on the command line picks from auditor.cli.COMMANDS and imports nothing else:
a name that is a module of auditor.cli (a helper, or a command module under its file name), a path or
a dotted name is refused in one line with exit 2, and the module it names is not imported."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("name", ["session", "signed_in", "engines", "audit_commands", "../cli/session",
                                  "auditor.cli.session", "os", "__init__", ""])
def test_a_name_outside_the_table_is_refused_and_imports_nothing(name):
    code = ("import sys\nfrom auditor.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n"
            "    print('exit', done.code)\n"
            "print('imported', sorted(m for m in sys.modules if m.startswith('auditor.cli.')))\n")
    done = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, timeout=120)
    assert "exit 2" in done.stdout
    assert "imported []" in done.stdout, done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
