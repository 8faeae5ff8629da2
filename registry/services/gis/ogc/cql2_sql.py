"""CQL2-text filters as SQL conditions: the parsed tree (``geodata.cql2``) checked against a collection's queryables.

The parser checks the filter's size while it reads (nesting depth, number of conditions); here each
property must be a queryable of the collection and each literal must be of its column's kind.
"""

from __future__ import annotations

from sqlalchemy import and_, false, not_, or_, true

from geodata import cql2
from registry.services.base import InvalidInput
from registry.services.gis.ogc.collections import Collection, queryables
from registry.services.gis.ogc.kinds import filter_literal


def filter_clause(collection: Collection, text_value: str, limits: tuple[int, int] | None = None):
    """The SQL condition of a CQL2-text filter, after checking its size and that every property is a queryable.

    ``limits`` is (nesting depth, number of conditions), from REGISTRY_CQL2_MAX_DEPTH and REGISTRY_CQL2_MAX_TERMS.
    """
    depth, terms = limits or (cql2.MAX_DEPTH, cql2.MAX_TERMS)
    try:
        tree = cql2.parse(text_value, max_depth=depth, max_terms=terms)
    except cql2.Cql2Error as exc:
        raise InvalidInput(str(exc), field="filter") from None
    props = queryables(collection)
    unknown = sorted(cql2.properties(tree) - set(props))
    if unknown:
        raise InvalidInput(f"filter: unknown property {unknown[0]!r}; see the queryables of "
                           f"{collection.id}", field="filter")
    return _sql(tree, props)


def _sql(node, props: dict):
    for node_type, convert in _CONVERTERS:
        if isinstance(node, node_type):
            return convert(node, props)
    raise InvalidInput("filter: this expression is not supported", field="filter")


def _and(node: cql2.And, props: dict):
    return and_(*(_sql(item, props) for item in node.items))


def _or(node: cql2.Or, props: dict):
    return or_(*(_sql(item, props) for item in node.items))


def _not(node: cql2.Not, props: dict):
    return not_(_sql(node.item, props))


def _alone(node: cql2.Literal, props: dict):
    if isinstance(node.value, bool):
        return true() if node.value else false()
    raise InvalidInput(f"filter: {node.value!r} alone is not a condition", field="filter")


def _comparison(node: cql2.Comparison, props: dict):
    left, right = node.left, node.right
    if isinstance(left, cql2.Literal) and isinstance(right, cql2.Property):
        flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(node.op, node.op)
        return _sql(cql2.Comparison(flipped, right, left), props)
    if not isinstance(left, cql2.Property):
        raise InvalidInput("filter: a comparison needs a property name on one side", field="filter")
    col, kind = props[left.name]
    if isinstance(right, cql2.Property):
        other, other_kind = props[right.name]
        if {kind, other_kind} - {"integer", "number"} and kind != other_kind:
            raise InvalidInput(f"filter: cannot compare {left.name} ({kind}) with {right.name} ({other_kind})",
                               field="filter")
        value = other
    else:
        value = filter_literal(right.value, kind, left.name)
    ops = {"=": col.__eq__, "<>": col.__ne__, "<": col.__lt__, "<=": col.__le__, ">": col.__gt__,
           ">=": col.__ge__}
    return ops[node.op](value)


def _is_null(node: cql2.IsNull, props: dict):
    col, _kind = props[node.prop.name]
    return col.is_not(None) if node.negated else col.is_(None)


def _like(node: cql2.Like, props: dict):
    col, kind = props[node.prop.name]
    if kind != "string":
        raise InvalidInput(f"filter: LIKE needs a text property; {node.prop.name!r} is a {kind}", field="filter")
    clause = col.like(node.pattern)
    return not_(clause) if node.negated else clause


def _in(node: cql2.In, props: dict):
    col, kind = props[node.prop.name]
    values = []
    for item in node.values:
        if not isinstance(item, cql2.Literal):
            raise InvalidInput("filter: IN takes a list of values", field="filter")
        values.append(filter_literal(item.value, kind, node.prop.name))
    clause = col.in_(values)
    return not_(clause) if node.negated else clause


def _between(node: cql2.Between, props: dict):
    col, kind = props[node.prop.name]
    if kind not in ("integer", "number", "date", "datetime"):
        raise InvalidInput(f"filter: BETWEEN needs a number or date property; {node.prop.name!r} is a {kind}",
                           field="filter")
    bounds = []
    for item in (node.low, node.high):
        if not isinstance(item, cql2.Literal):
            raise InvalidInput("filter: BETWEEN takes two values", field="filter")
        bounds.append(filter_literal(item.value, kind, node.prop.name))
    clause = col.between(*bounds)
    return not_(clause) if node.negated else clause


# In the order the tree's node types were always tried.
_CONVERTERS = (
    (cql2.And, _and), (cql2.Or, _or), (cql2.Not, _not), (cql2.Literal, _alone), (cql2.Comparison, _comparison),
    (cql2.IsNull, _is_null), (cql2.Like, _like), (cql2.In, _in), (cql2.Between, _between),
)
