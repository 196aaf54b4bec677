"""An attacker (or a mix-up) with the files of a vault home: a copied home, a keyring or a database
from another vault. Each is run through the CLI, with the files edited as such a person would."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from auditor.home import create_home
from tests.cli.test_cli import one_line_error


@pytest.fixture
def two_vaults(tmp_path, clock):
    """The home the `auditor` fixture uses (tmp_path/home) and another vault's home beside it."""
    homes = []
    for name in ("home", "other"):
        vault = create_home(tmp_path / name, clock=clock)
        homes.append(vault.home.resolve())
        vault.close()
    return homes


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_copied_home_verifies_its_own_databases(population, auditor, tmp_path):
    population.close()
    original, copy = population.home.resolve(), (tmp_path / "copy").resolve()
    shutil.copytree(original, copy)
    con = sqlite3.connect(copy / "records.db")
    con.execute("update audit_events set user_id = 'someone-else' where seq = 2")
    con.commit()
    con.close()

    tampered = auditor("--home", str(copy), "audit", "verify")
    assert tampered.code == 1 and "first bad sequence number 2" in tampered.out, tampered.out
    assert (f"checked: records database {copy / 'records.db'}; key store {copy / 'keystore.db'}; "
            f"checkpoints {copy / 'checkpoints.log'}") in tampered.out.splitlines()
    untouched = auditor("audit", "verify")  # the original home
    assert untouched.code == 0 and f"checked: records database {original / 'records.db'};" in untouched.out


def test_a_keyring_from_another_vault_is_refused(auditor, two_vaults):
    home, other = two_vaults
    shutil.copy2(other / "keyring.json", home / "keyring.json")
    error = one_line_error(auditor("keys", "status"))
    assert f"keyring {home / 'keyring.json'} does not belong to this vault" in error
    assert one_line_error(auditor("audit", "verify")) == error


@pytest.mark.parametrize("setting, what", [("database_url", "records database"), ("keystore_url", "key store")])
def test_a_database_of_another_vault_is_refused(auditor, two_vaults, setting, what):
    home, other = two_vaults
    settings = json.loads((home / "home.json").read_text())
    theirs = other / ("records.db" if setting == "database_url" else "keystore.db")
    settings[setting] = f"sqlite:///{theirs}"
    (home / "home.json").write_text(json.dumps(settings))
    error = one_line_error(auditor("keys", "status"))
    assert f"the {what} {theirs} does not belong to keyring {home / 'keyring.json'}" in error


def test_a_home_json_naming_the_databases_by_relative_paths(two_vaults):
    home, _ = two_vaults
    settings = json.loads((home / "home.json").read_text())
    assert (settings["database_url"], settings["keystore_url"]) == ("sqlite:///records.db", "sqlite:///keystore.db")
