"""A CQL2-text parser for the subset the registry serves: basic CQL2 plus LIKE, IN and BETWEEN.

The parser knows no database: it turns filter text into a small tree of dataclasses, and the
registry translates that tree into SQL after checking every property name against the queryables.

Grammar (OGC 21-065, "basic-cql2" and the advanced comparison operators)::

    expr      := term { OR term }
    term      := factor { AND factor }
    factor    := [NOT] primary
    primary   := "(" expr ")" | TRUE | FALSE | predicate
    predicate := scalar op scalar | prop IS [NOT] NULL | prop [NOT] LIKE string
               | prop [NOT] IN "(" scalar {"," scalar} ")" | prop [NOT] BETWEEN scalar AND scalar
    scalar    := prop | 'string' | number | TRUE | FALSE | DATE('…') | TIMESTAMP('…')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

__all__ = [
    "And", "Between", "Comparison", "Cql2Error", "In", "IsNull", "Like", "Literal", "Not", "Or", "Property",
    "parse", "properties",
]

COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
KEYWORDS = {"AND", "OR", "NOT", "IS", "NULL", "LIKE", "IN", "BETWEEN", "TRUE", "FALSE", "DATE", "TIMESTAMP"}


# How deep parentheses and NOT may nest, and how many conditions (IN values counted one by one) a filter
# may hold: checked while parsing, so a hostile filter costs no more than a legitimate one.
MAX_DEPTH = 20
MAX_TERMS = 200


class Cql2Error(ValueError):
    """A filter that is not CQL2 text the registry understands; the message names the position."""


@dataclass(frozen=True)
class Property:
    name: str


@dataclass(frozen=True)
class Literal:
    value: object


@dataclass(frozen=True)
class Comparison:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class IsNull:
    prop: Property
    negated: bool = False


@dataclass(frozen=True)
class Like:
    prop: Property
    pattern: str
    negated: bool = False


@dataclass(frozen=True)
class In:
    prop: Property
    values: tuple
    negated: bool = False


@dataclass(frozen=True)
class Between:
    prop: Property
    low: object
    high: object
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: object


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<quoted>"(?:[^"]|"")+")
      | (?P<name>[A-Za-z_][A-Za-z0-9_.:]*)
      | (?P<op><>|<=|>=|=|<|>)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, object, int]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise Cql2Error(f"filter: unexpected character {text[pos:].lstrip()[:1]!r} at position {pos}")
        kind = match.lastgroup
        raw = match.group(kind)
        start = match.start(kind)
        if kind == "string":
            out.append(("string", raw[1:-1].replace("''", "'"), start))
        elif kind == "number":
            out.append(("number", float(raw) if any(c in raw for c in ".eE") else int(raw), start))
        elif kind == "quoted":
            out.append(("name", raw[1:-1].replace('""', '"'), start))
        elif kind == "name" and raw.upper() in KEYWORDS:
            out.append(("kw", raw.upper(), start))
        else:
            out.append((kind, raw, start))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, max_depth: int = MAX_DEPTH, max_terms: int = MAX_TERMS):
        # Room for every allowed condition at a generous 100 characters each; longer text is not tokenised.
        longest = max(4096, 100 * max_terms)
        if len(text) > longest:
            raise Cql2Error(f"filter: {len(text)} characters is longer than the {longest} a filter may hold")
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0
        self.terms = 0
        self.max_depth = max_depth
        self.max_terms = max_terms

    def enter(self):
        self.depth += 1
        if self.depth > self.max_depth:
            raise Cql2Error(f"filter: nested more than {self.max_depth} level(s) deep (parentheses and NOT) at "
                            f"position {self.tokens[self.i - 1][2]}; write it with fewer levels")

    def count(self, n: int = 1):
        self.terms += n
        if self.terms > self.max_terms:
            where = f"position {self.tokens[self.i][2]}" if self.i < len(self.tokens) else "the end"
            raise Cql2Error(f"filter: more than {self.max_terms} conditions (each IN value counts) at {where}; "
                            "split the request or use BETWEEN")

    def peek(self, kind=None, value=None) -> bool:
        if self.i >= len(self.tokens):
            return False
        tkind, tvalue, _ = self.tokens[self.i]
        return (kind is None or tkind == kind) and (value is None or tvalue == value)

    def fail(self, what: str):
        where = f"at position {self.tokens[self.i][2]}" if self.i < len(self.tokens) else "at the end"
        found = repr(self.tokens[self.i][1]) if self.i < len(self.tokens) else "nothing"
        raise Cql2Error(f"filter: expected {what} {where}, found {found}")

    def take(self, kind=None, value=None, what: str = ""):
        if not self.peek(kind, value):
            self.fail(what or value or kind)
        token = self.tokens[self.i]
        self.i += 1
        return token[1]

    def expr(self):
        items = [self.term()]
        while self.peek("kw", "OR"):
            self.i += 1
            items.append(self.term())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def term(self):
        items = [self.factor()]
        while self.peek("kw", "AND"):
            self.i += 1
            items.append(self.factor())
        return items[0] if len(items) == 1 else And(tuple(items))

    def factor(self):
        if self.peek("kw", "NOT"):
            self.i += 1
            self.enter()
            inner = Not(self.primary())
            self.depth -= 1
            return inner
        return self.primary()

    def primary(self):
        if self.peek("punct", "("):
            self.i += 1
            self.enter()
            inner = self.expr()
            self.take("punct", ")", "')'")
            self.depth -= 1
            return inner
        self.count()
        left = self.scalar()
        if isinstance(left, Literal) and isinstance(left.value, bool) and not self._starts_predicate_tail():
            return left
        return self.predicate(left)

    def _starts_predicate_tail(self) -> bool:
        return self.peek("op") or any(self.peek("kw", k) for k in ("IS", "LIKE", "IN", "BETWEEN", "NOT"))

    def predicate(self, left):
        if self.peek("op"):
            op = self.take("op")
            return Comparison(op, left, self.scalar())
        prop = left if isinstance(left, Property) else None
        if self.peek("kw", "IS"):
            self.i += 1
            negated = self.peek("kw", "NOT")
            if negated:
                self.i += 1
            self.take("kw", "NULL", "NULL")
            return IsNull(self._need_prop(prop, "IS NULL"), negated)
        negated = self.peek("kw", "NOT")
        if negated:
            self.i += 1
        if self.peek("kw", "LIKE"):
            self.i += 1
            return Like(self._need_prop(prop, "LIKE"), self.take("string", what="a quoted pattern"), negated)
        if self.peek("kw", "IN"):
            self.i += 1
            self.take("punct", "(", "'('")
            values = [self.scalar()]
            while self.peek("punct", ","):
                self.i += 1
                self.count()
                values.append(self.scalar())
            self.take("punct", ")", "')'")
            return In(self._need_prop(prop, "IN"), tuple(values), negated)
        if self.peek("kw", "BETWEEN"):
            self.i += 1
            low = self.scalar()
            self.take("kw", "AND", "AND")
            return Between(self._need_prop(prop, "BETWEEN"), low, self.scalar(), negated)
        self.fail("a comparison operator (=, <>, <, <=, >, >=), IS, LIKE, IN or BETWEEN")

    @staticmethod
    def _need_prop(prop, what: str) -> Property:
        if prop is None:
            raise Cql2Error(f"filter: {what} needs a property name on its left")
        return prop

    def scalar(self):
        if self.peek("string"):
            return Literal(self.take("string"))
        if self.peek("number"):
            return Literal(self.take("number"))
        if self.peek("kw", "TRUE") or self.peek("kw", "FALSE"):
            return Literal(self.take("kw") == "TRUE")
        if self.peek("kw", "DATE") or self.peek("kw", "TIMESTAMP"):
            kind = self.take("kw")
            self.take("punct", "(", "'('")
            raw = self.take("string", what="a quoted date")
            self.take("punct", ")", "')'")
            try:
                if kind == "DATE":
                    return Literal(date.fromisoformat(raw))
                return Literal(datetime.fromisoformat(raw.replace("Z", "+00:00")))
            except ValueError:
                raise Cql2Error(f"filter: {kind}('{raw}') is not a valid ISO 8601 {kind.lower()}") from None
        if self.peek("name"):
            return Property(self.take("name"))
        self.fail("a property name or a value")


def parse(text: str, max_depth: int = MAX_DEPTH, max_terms: int = MAX_TERMS):
    """Parse CQL2 text into a tree of this module's dataclasses.

    Parameters
    ----------
    text : str
        A CQL2-text filter, e.g. ``level = 'provincial' AND area_m2 > 100``.
    max_depth : int, default 20
        How deep parentheses and NOT may nest.
    max_terms : int, default 200
        How many conditions the filter may hold, each value of an IN list counted as one.

    Returns
    -------
    And, Or, Not, Comparison, IsNull, Like, In, Between or Literal
        The root of the expression tree.

    Raises
    ------
    Cql2Error
        When the text is empty, not CQL2 the parser knows, or past a limit; the message names the position.

    Example
    -------
    >>> parse("level = 'national'")
    Comparison(op='=', left=Property(name='level'), right=Literal(value='national'))
    >>> try:
    ...     parse("((a = 1))", max_depth=1)
    ... except Cql2Error as exc:
    ...     print(exc)
    filter: nested more than 1 level(s) deep (parentheses and NOT) at position 1; write it with fewer levels
    """
    if not isinstance(text, str) or not text.strip():
        raise Cql2Error("filter: the filter is empty")
    parser = _Parser(text, max_depth, max_terms)
    try:
        tree = parser.expr()
    except RecursionError:
        # Only reachable when a caller raises max_depth past what Python's stack holds.
        raise Cql2Error("filter: nested too deeply to read; write it with fewer levels") from None
    if parser.i != len(parser.tokens):
        _kind, value, pos = parser.tokens[parser.i]
        raise Cql2Error(f"filter: unexpected {value!r} at position {pos}")
    return tree


def properties(tree) -> set[str]:
    """Every property name a parsed filter refers to.

    Example
    -------
    >>> sorted(properties(parse("a = 1 OR NOT b IS NULL")))
    ['a', 'b']
    """
    if isinstance(tree, Property):
        return {tree.name}
    if isinstance(tree, (And, Or)):
        return set().union(*(properties(item) for item in tree.items))
    if isinstance(tree, Not):
        return properties(tree.item)
    if isinstance(tree, Comparison):
        return properties(tree.left) | properties(tree.right)
    if isinstance(tree, (IsNull, Like)):
        return {tree.prop.name}
    if isinstance(tree, In):
        return {tree.prop.name}.union(*(properties(v) for v in tree.values))
    if isinstance(tree, Between):
        return {tree.prop.name} | properties(tree.low) | properties(tree.high)
    return set()
