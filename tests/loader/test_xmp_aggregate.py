"""Pins ``aggregate`` on the shapes its shortcuts cover (plain arrays, string qualifiers)
against the outputs of the level-by-level algorithm they stand in for."""

from __future__ import annotations

from typing import Any

import pytest

from reingest.loader.xmp import aggregate

CASES: list[tuple[dict[str, str], dict[str, Any]]] = [
    # a plain array: values in index order, whatever the key order
    (
        {"dc:subject[2]": "b", "dc:subject[1]": "a", "dc:subject[10]": "c"},
        {"dc:subject": ["a", "b", "c"]},
    ),
    # equal indices keep the keys' order; " 1" is not a plain index but ranks the same
    ({"k[1]": "y", "k[01]": "z", "k[1 ]": "w"}, {"k": ["y", "z", "w"]}),
    # a plain key sorts after its root's array items, even when it came first
    ({"k": "plain", "k[2]": "b", "k[1]": "a"}, {"k": ["a", "b", "plain"]}),
    # language alternatives and structs take the level-by-level path
    (
        {"dc:title[1]": "T", "dc:title[1]/xml:lang": "x-default"},
        {"dc:title": ["T", ["{'xml:lang':'x-default'}"]]},
    ),
    (
        {"h[1]/stEvt:action": "saved", "h[1]/stEvt:when": "2015", "h[2]/stEvt:action": "d"},
        {"h": [["{'stEvt:action':'saved'}", "{'stEvt:when':'2015'}"], ["{'stEvt:action':'d'}"]]},
    ),
    # roots keep their first key's place; a string qualifier is JSON with quotes swapped
    (
        {"p": "1", "q/r": 'say "hi"', "p2[1]": "ü"},
        {"p": "1", "q": ["{'r':'say \\'hi\\''}"], "p2": ["ü"]},
    ),
]


@pytest.mark.parametrize(("flat", "expected"), CASES)
def test_aggregate(flat: dict[str, str], expected: dict[str, Any]) -> None:
    result = aggregate(flat)
    assert result == expected
    assert list(result) == list(expected)
