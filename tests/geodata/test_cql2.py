"""The CQL2-text parser: the grammar it accepts and the errors it names."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from geodata import cql2
from geodata.cql2 import And, Between, Comparison, In, IsNull, Like, Literal, Not, Or, Property


@pytest.mark.parametrize("text, tree", [
    ("level = 'national'", Comparison("=", Property("level"), Literal("national"))),
    ("area_m2 >= 10.5", Comparison(">=", Property("area_m2"), Literal(10.5))),
    ("count <> -3", Comparison("<>", Property("count"), Literal(-3))),
    ("name = 'O''Brien'", Comparison("=", Property("name"), Literal("O'Brien"))),
    ('"level" = \'x\'', Comparison("=", Property("level"), Literal("x"))),
    ("a = 1 AND b = 2 OR c = 3",
     Or((And((Comparison("=", Property("a"), Literal(1)), Comparison("=", Property("b"), Literal(2)))),
         Comparison("=", Property("c"), Literal(3))))),
    ("NOT (a = TRUE)", Not(Comparison("=", Property("a"), Literal(True)))),
    ("a IS NULL", IsNull(Property("a"))),
    ("a is not null", IsNull(Property("a"), True)),
    ("name LIKE '%园'", Like(Property("name"), "%园")),
    ("name NOT LIKE 'x%'", Like(Property("name"), "x%", True)),
    ("code IN ('F1', 'F2')", In(Property("code"), (Literal("F1"), Literal("F2")))),
    ("n NOT IN (1)", In(Property("n"), (Literal(1),), True)),
    ("d BETWEEN DATE('2020-01-01') AND DATE('2020-12-31')",
     Between(Property("d"), Literal(date(2020, 1, 1)), Literal(date(2020, 12, 31)))),
    ("t > TIMESTAMP('2020-01-01T00:00:00Z')",
     Comparison(">", Property("t"), Literal(datetime(2020, 1, 1, tzinfo=UTC)))),
    ("TRUE", Literal(True)),
    ("1 < n", Comparison("<", Literal(1), Property("n"))),
])
def test_parse(text, tree):
    assert cql2.parse(text) == tree


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("level =", "at the end"),
    ("level == 'x'", "position"),
    ("(a = 1", "expected '\\)'"),
    ("a = 1)", "unexpected '\\)'"),
    ("a = 'open", "unexpected character"),
    ("a ! 1", "unexpected character"),
    ("d = DATE('2020-13-01')", "not a valid"),
    ("'x' LIKE 'y'", "property name"),
    ("a LIKE 5", "quoted pattern"),
    ("a b", "comparison operator"),
    ("a BETWEEN 1 OR 2", "AND"),
])
def test_syntax_errors_name_the_problem(text, message):
    with pytest.raises(cql2.Cql2Error, match=message):
        cql2.parse(text)


def test_properties():
    tree = cql2.parse("a = b AND c IN (1, 2) AND NOT d IS NULL AND e BETWEEN 1 AND 2 AND f LIKE 'x'")
    assert cql2.properties(tree) == {"a", "b", "c", "d", "e", "f"}


def nested(depth: int) -> str:
    return "(" * depth + "a = 1" + ")" * depth


@pytest.mark.parametrize(("text", "allowed"), [
    (nested(20), True),
    (nested(21), False),
    (nested(400), False),
    ("NOT " * 1 + nested(19), True),
    ("NOT (" * 11 + "a = 1" + ")" * 11, False),  # NOT and its parenthesis are two levels each time
    (" AND ".join(["a = 1"] * 200), True),
    (" AND ".join(["a = 1"] * 201), False),
    ("a IN (" + ", ".join(["1"] * 200) + ")", True),
    ("a IN (" + ", ".join(["1"] * 201) + ")", False),
])
def test_depth_and_size_are_limited_while_parsing(text, allowed):
    if allowed:
        assert cql2.parse(text) is not None
    else:
        with pytest.raises(cql2.Cql2Error, match=r"^filter: (nested more than 20|more than 200 conditions)"):
            cql2.parse(text)


def test_the_limits_are_parameters_and_the_stack_never_overflows():
    assert cql2.parse(nested(3), max_depth=3) is not None
    with pytest.raises(cql2.Cql2Error, match="nested more than 2"):
        cql2.parse(nested(3), max_depth=2)
    with pytest.raises(cql2.Cql2Error, match="more than 2 conditions"):
        cql2.parse("a = 1 OR b = 2 OR c = 3", max_terms=2)
    # A caller raising the depth past what Python's stack holds still gets a Cql2Error, not a RecursionError.
    with pytest.raises(cql2.Cql2Error, match="filter: nested too deeply"):
        cql2.parse(nested(5000), max_depth=10_000, max_terms=10_000)
    with pytest.raises(cql2.Cql2Error, match="longer than the 4096"):
        cql2.parse("a = '" + "x" * 5000 + "'", max_terms=10)
