"""Reading YAML safely: the dangers yaml.safe_load lets through are refused with a line number."""

import re
import time

import pytest
from conftest import lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen import document
from fluxgen.document import decode, load
from fluxgen.errors import SpecError


def error(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        load(text, "f.yaml")
    return "\n".join(lines(caught.value.problems))


def test_lines_are_recorded_for_keys_and_items():
    data, lines = load("a: 1\nb:\n  - x: 2\n", "f.yaml")
    assert data == {"a": 1, "b": [{"x": 2}]}
    assert (lines[("a",)], lines[("b", 0)], lines[("b", 0, "x")]) == (1, 3, 3)


def test_small_aliases_and_merge_keys_still_work():
    data, _ = load("base: &b {x: 1, y: 1}\napp:\n  <<: *b\n  y: 2\nlist: [*b]\n", "f.yaml")
    assert data["app"] == {"x": 1, "y": 2} and data["list"] == [{"x": 1, "y": 1}]


def test_alias_bomb_is_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8))
    started = time.monotonic()
    assert error(bomb) == "f.yaml: aliases expand to more than 1,000,000 values; refusing to read it"
    assert time.monotonic() - started < 5  # a generous bound: it must not expand 10**9 nodes


@pytest.mark.parametrize("text", [
    "a: " + "[" * 20000 + "]" * 20000 + "\n",
    "".join("  " * i + "a:\n" for i in range(200)) + "  " * 200 + "b\n",
], ids=["flow", "block"])
def test_deep_nesting_is_refused(text):
    # fluxgen stops at 100 levels; PyYAML >= 6.0.4's libyaml may stop first, with its own words
    assert re.match(r"^f\.yaml:\d+: (nested more than 100 levels deep|.*exceeded maximum nesting depth)$", error(text))


@pytest.mark.parametrize("text, message", [
    ("a: 1\na: 2\n", "f.yaml:2: a: duplicate key (first on line 1)"),
    ("a: [1\n", "f.yaml:2: while parsing a flow sequence, did not find expected ',' or ']'"),
    ("a:\n\t- b\n", "f.yaml:2: while scanning for the next token, found character that cannot start any token"),
    ("a: !!python/name:os.system\n", "f.yaml:1: a: the tag tag:yaml.org,2002:python/name:os.system is not "
                                     "allowed here"),
    ("? [a]\n: b\n", "f.yaml:1: a mapping key must be a plain value"),
    ("a: *nowhere\n", "f.yaml:1: found undefined alias"),
])
def test_yaml_problems_name_the_line(text, message):
    assert error(text).startswith(message)


def test_byte_order_mark_is_accepted_and_bad_bytes_are_named():
    assert decode(b"\xef\xbb\xbfapps: []\n", "f.yaml") == "apps: []\n"
    with pytest.raises(SpecError) as caught:
        decode(b"a: 1\nb: \xff\n", "f.yaml")
    assert lines(caught.value.problems) == ["f.yaml:2: not UTF-8 text (byte 0xff at offset 8)"]


def test_nul_bytes_are_refused():
    assert error("a: b\x00c\n") == "f.yaml:1: the character U+0000 is not allowed in YAML (a control character)"


# The plain reading (events, lines found later) and the careful one (nodes, every check) must
# give the same data, lines and errors: documents built from pieces that each path treats
# differently (tags, anchors and aliases, merge keys, duplicate keys, several documents, depth).
PIECES = ["a: 1", "b: '1.10'", "c: 1.10", "d: [x, 'y', 2024-01-01, 2024-13-01]", "e: {f: null, g: ~, h: on}",
          "i: !!str 5", "j: !!int x", "k: !!binary aGk=", "l: &anchor {m: 1}", "n: *anchor", "<<: {o: 1}",
          "'<<': 1", "a: 2", "p: !custom 1", "q: ! 7", "r:\n  - s\n  - t: u", "v: |\n  block\n  text",
          "w: 99999999999999999999", "x: .inf", "? [complex]\n: key", "y: ---", "---\nz: 1", "'2': !!map {}",
          "deep: " + "[" * 101 + "]" * 101, "!!str key: 1", "0o17: octal", "t: 2001-12-14t21:59:43.10-05:00",
          "!custom key: 1", "seq: !!seq [1]", "map: !!set {a}", "list: !custom [1]"]


def agree(text: str) -> None:
    try:
        careful = document._careful(text, "x.yaml")
    except SpecError as err:
        with pytest.raises(SpecError) as raised:
            document.load(text, "x.yaml")
        assert raised.value.problems == err.problems
        return
    data, lines = document.load(text, "x.yaml")
    assert (data, dict(lines)) == careful and repr(data) == repr(careful[0])


@pytest.mark.parametrize("piece", PIECES)
def test_the_plain_and_the_careful_reading_agree_on_each_piece(piece):
    agree(piece + "\n")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=6))
def test_the_plain_and_the_careful_reading_agree_on_documents_of_pieces(pieces):
    agree("\n".join(pieces) + "\n")


def test_a_document_of_too_many_values_is_refused_without_aliases_too(monkeypatch):
    """The plain reading counts values as the careful one does (found by comparing versions)."""
    monkeypatch.setattr(document, "MAX_NODES", 10)
    agree("a: [1, 2, 3, 4]\nb: {c: 1, d: 2}\n")  # 13 values (a key is one): the careful reading refuses them
    with pytest.raises(SpecError, match="more than 10 values"):
        load("a: [1, 2, 3, 4]\nb: {c: 1, d: 2}\n", "x.yaml")
    agree("a: [1, 2]\nb: {c: 1}\n")  # 9: both read it
    agree("a: [1, 2, 3]\nb: {c: 1}\n")  # 10, the most there may be
    agree("a: [1, 2, 3, 4]\nb: {c: 1}\n")  # 11
    assert load("a: [1, 2]\nb: {c: 1}\n", "x.yaml")[0] == {"a": [1, 2], "b": {"c": 1}}
