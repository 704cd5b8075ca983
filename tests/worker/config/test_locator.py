"""Field paths to line numbers in a YAML file, duplicate keys, and the line of a syntax error."""

from __future__ import annotations

import pytest

from worker.config.locator import YamlSyntaxError, parse_yaml

TEXT = """\
clusters:
  - id: a
targets:
  - name: pager
    type: webhook
    name: again
routes:
  - targets: [pager, nobody]
"""


def test_a_field_path_finds_its_line_and_a_missing_key_its_parent() -> None:
    locator = parse_yaml(TEXT).locator
    assert locator.line(("routes", 0, "targets", 1)) == 8
    assert locator.line(("targets", 0, "type")) == 5
    assert locator.line(("targets", 0, "url")) == 4  # not there: the target's own line


def test_duplicate_keys_are_listed_with_the_line_of_the_repetition() -> None:
    assert parse_yaml(TEXT).locator.duplicate_keys() == [(("targets", 0, "name"), 6)]


def test_invalid_yaml_names_its_line() -> None:
    with pytest.raises(YamlSyntaxError) as error:
        parse_yaml("clusters:\n  - id: a\n  bad: [\n")
    assert error.value.line == 3
