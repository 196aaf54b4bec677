"""Policies and site files are read as plain data, by libyaml where PyYAML has it, with each key's line."""

from __future__ import annotations

import pytest
import yaml

from auditor import yaml_files

TAGGED = "rules:\n  - !!python/object/apply:os.system ['touch /tmp/owned']\n"


@pytest.mark.parametrize("read", [yaml_files.load, yaml_files.load_with_nodes])
def test_an_object_tag_is_refused_not_built(read, tmp_path):
    with pytest.raises(yaml.constructor.ConstructorError):
        read(TAGGED.replace("/tmp/owned", str(tmp_path / "owned")))
    assert not (tmp_path / "owned").exists()


def test_the_nodes_give_each_keys_line_and_the_values_are_loads():
    text = "engine:\n  parameters:\n    window: 7\nrules:\n  - id: a\n  - id: b\n"
    nodes, data = yaml_files.load_with_nodes(text)
    assert data == yaml_files.load(text) == {"engine": {"parameters": {"window": 7}}, "rules": [{"id": "a"}, {"id": "b"}]}
    lines = {key.value: key.start_mark.line + 1 for key, _ in nodes.value}
    assert lines == {"engine": 1, "rules": 4}
    assert yaml_files.load_with_nodes("") == (None, None) and yaml_files.load("") is None


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="this PyYAML was built without libyaml")
def test_libyaml_parses_when_pyyaml_has_it():
    assert yaml_files.Loader is yaml.CSafeLoader


def test_the_package_reads_yaml_only_here():
    import re
    from pathlib import Path

    import auditor

    package = Path(auditor.__file__).parent
    direct = [str(p.relative_to(package)) for p in package.rglob("*.py") if p.name != "yaml_files.py"
              and re.search(r"yaml\.(safe_load|load|compose|full_load|unsafe_load)\(", p.read_text(encoding="utf-8"))]
    assert direct == []


def _laughs(levels: int = 9) -> str:
    """A "billion laughs": nine values, then levels of nine aliases each of the level before."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghijklmnopqrstuvwxyz"
    for before, name in zip(names, names[1:levels]):
        lines.append(f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("read", [yaml_files.load, yaml_files.load_with_nodes])
@pytest.mark.parametrize("text, line", [
    (_laughs(), 1),
    ("base: &base {window: 7}\nrules:\n  - id: a\n    parameters: *base\n", 1),
    ("rules:\n  - &rule {id: a}\n  - <<: *rule\n    severity: high\n", 2),
    ("loop: &loop [*loop]\n", 1),
], ids=["billion-laughs", "alias", "merge-key", "recursive"])
def test_anchors_and_aliases_are_refused(read, text, line):
    with pytest.raises(yaml.YAMLError) as refused:
        read(text)
    assert "aliases are not allowed" in refused.value.problem
    assert refused.value.problem_mark.line + 1 == line


@pytest.mark.parametrize("read", [yaml_files.load, yaml_files.load_with_nodes])
def test_an_anchor_named_once_and_repeated_values_are_plain_data(read):
    text = "a: [x, x]\nb: [x, x]\nc: {k: [1, 2]}\nd: {k: [1, 2]}\n"
    data = read(text) if read is yaml_files.load else read(text)[1]
    assert data == {"a": ["x", "x"], "b": ["x", "x"], "c": {"k": [1, 2]}, "d": {"k": [1, 2]}}
