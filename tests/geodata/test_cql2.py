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
