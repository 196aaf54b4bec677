import pytest

from auditor.errors import InputError
from auditor.phi_files import write_private


def test_written_whole_and_owner_only(tmp_path):
    target = tmp_path / "findings.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new ü")
    assert target.read_text(encoding="utf-8") == "new ü"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["findings.json"]


def test_bad_targets_are_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        write_private(tmp_path, b"x")
    with pytest.raises(InputError, match="no such folder"):
        write_private(tmp_path / "missing" / "f.csv", b"x")
