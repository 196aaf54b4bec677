"""The YAML of policies, mapping files and site folders, read one way everywhere: safely (plain data:
no object tags), and by libyaml where PyYAML was built with it, about ten times faster than PyYAML's
own parser on the same text. Every command reads the access-control policy as it opens the vault, and
the rule pack's files as it judges, so the parser is on every command's path.

Anchors and aliases are refused. No policy needs them, and an alias is how a file of a few hundred bytes
becomes a structure of billions of values (nine levels of nine aliases each: "billion laughs") that
whatever walks the values next would never finish. Whoever can write a site folder must not be able to
hang the privacy officer's commands with it."""

from __future__ import annotations

from typing import Any

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str | bytes) -> Any:
    """The document's values (None for an empty one); yaml.YAMLError when it is not YAML."""
    return load_with_nodes(text)[1]


def load_with_nodes(text: str | bytes) -> tuple[yaml.Node | None, Any]:
    """The document's nodes (whose marks give each key's line) and its values, from one parse."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _refuse_aliases(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _refuse_aliases(root: yaml.Node) -> None:
    """yaml.composer.ComposerError at the first node reached twice: the composer gives an alias the very
    node its anchor names, so a node met again is an alias (or a cycle), found without expanding it."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            raise yaml.composer.ComposerError(
                None, None, "found an alias of the content anchored here; anchors and aliases are not allowed",
                node.start_mark)
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.extend((value, key))
