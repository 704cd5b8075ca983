"""Where a value sits in a YAML file: the node tree that turns a field path into a line number.

:func:`parse_yaml` reads a document once into its data and its node tree (``yaml.compose``); the
:class:`YamlLocator` answers "which line is ``routes.2.targets.0`` on" for pydantic's error locations, and
lists the duplicate keys that ``yaml.safe_load`` would silently let win.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

__all__ = ["Loc", "YamlDocument", "YamlLocator", "YamlSyntaxError", "parse_yaml"]

Loc = tuple[str | int, ...]
"""A field path, as pydantic gives it: ``("routes", 2, "targets", 0)``."""


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; ``line`` is 1-based."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(message)
        self.line = line


class YamlLocator:
    """Line numbers of field paths in one document's node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line(self, loc: Loc) -> int:
        """1-based line of the deepest node ``loc`` reaches (the parent's line for a missing key)."""
        node = self._root
        line = node.start_mark.line + 1 if node is not None else 1
        for part in loc:
            child = _child(node, part)
            if child is None:
                break
            node, line = child
        return line

    def duplicate_keys(self) -> list[tuple[Loc, int]]:
        """Each key repeated within one mapping, with the line of the repetition."""
        found: list[tuple[Loc, int]] = []
        _duplicates(self._root, (), found)
        return found


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document: its data (None for an empty file) and the locator over its nodes."""

    data: object
    locator: YamlLocator


def parse_yaml(text: str) -> YamlDocument:
    """Parse ``text`` once into data and node tree; :class:`YamlSyntaxError` names the line of a mistake."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = exc.problem_mark if isinstance(exc, yaml.MarkedYAMLError) else None
        raise YamlSyntaxError(str(exc), line=mark.line + 1 if mark is not None else 1) from None
    finally:
        loader.dispose()
    return YamlDocument(data=data, locator=YamlLocator(node))


def _duplicates(node: yaml.Node | None, loc: Loc, found: list[tuple[Loc, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key, value in node.value:
            if key.value in seen:
                found.append(((*loc, key.value), key.start_mark.line + 1))
            seen.add(key.value)
            _duplicates(value, (*loc, key.value), found)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _duplicates(item, (*loc, index), found)


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node, int] | None:
    """The node under ``node`` at ``part`` and the line to report for it (a key's own line)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line + 1
    return None
