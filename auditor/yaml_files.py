"""The YAML of policies, mapping files and site folders, read one way everywhere: safely (plain data:
no object tags), and by libyaml where PyYAML was built with it, about ten times faster than PyYAML's
own parser on the same text. Every command reads the access-control policy as it opens the vault, and
the rule pack's files as it judges, so the parser is on every command's path."""

from __future__ import annotations

from typing import Any

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str | bytes) -> Any:
    """The document's values (None for an empty one); yaml.YAMLError when it is not YAML."""
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader, C or Python


def load_with_nodes(text: str | bytes) -> tuple[yaml.Node | None, Any]:
    """The document's nodes (whose marks give each key's line) and its values, from one parse."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()
