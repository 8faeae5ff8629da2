"""The n-gram index of martyrs' names (martyr_name_grams), filled from the martyrs already on the roll.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Frozen here as this revision indexed names (as stored), so that later changes to the services'
# indexing do not change what this revision does. Revision 0010 adds the simplified forms.
UNKNOWN_NAME = "无名烈士"
SEPARATOR = "\x1f"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The indexed text: the name with ASCII letters folded, and 无名烈士 joined on for an unknown martyr
# whose name lacks it.
_TEXT = {
    "sqlite": "lower(coalesce(name, ''))",
    "postgresql": f"translate(coalesce(name, ''), '{_UPPER}', '{_UPPER.lower()}')",
}
_FIND = {"sqlite": "instr", "postgresql": "strpos"}
_SOURCE = """
src AS MATERIALIZED (
    SELECT id, name_pinyin, t, length(t) AS len FROM (
        SELECT id, name_pinyin, CASE
            WHEN NOT is_unknown OR {find}({text}, :unknown) > 0 THEN {text}
            WHEN {text} = '' THEN :unknown
            ELSE {text} || :separator || :unknown END AS t
        FROM martyrs
    ) AS texts
)"""
# Every distinct character and adjacent pair of each text, where the gram first occurs in it.
_FILL = {
    "sqlite": """
WITH RECURSIVE positions(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM positions WHERE i < :longest),
{source}
INSERT INTO martyr_name_grams (gram, martyr_id, name_pinyin)
SELECT substr(t, i, n), id, name_pinyin
FROM src JOIN positions ON i <= len JOIN (SELECT 1 AS n UNION ALL SELECT 2) AS sizes ON i + n - 1 <= len
WHERE instr(t, substr(t, i, n)) = i
""",
    "postgresql": """
WITH {source}
INSERT INTO martyr_name_grams (gram, martyr_id, name_pinyin)
SELECT substr(s.t, p.i, z.n), s.id, s.name_pinyin
FROM src AS s
CROSS JOIN LATERAL generate_series(1, s.len) AS p(i)
CROSS JOIN (VALUES (1), (2)) AS z(n)
WHERE p.i + z.n - 1 <= s.len AND strpos(s.t, substr(s.t, p.i, z.n)) = p.i
""",
}


def upgrade() -> None:
    # A plain application table (not registered in gpkg_contents): a derived index, rebuilt at will.
    op.create_table(
        "martyr_name_grams",
        sa.Column("gram", sa.Text(), nullable=False),
        sa.Column("martyr_id", sa.Integer(), nullable=False),
        sa.Column("name_pinyin", sa.Text(), nullable=True),
    )
    # Backfill the martyrs already on the roll in one INSERT ... SELECT, then build each index by one sort.
    conn = op.get_bind()
    dialect = conn.dialect.name
    longest = conn.execute(sa.text(f"SELECT max(length({_TEXT[dialect]})) FROM martyrs")).scalar()
    if longest:
        source = _SOURCE.format(find=_FIND[dialect], text=_TEXT[dialect])
        conn.execute(sa.text(_FILL[dialect].format(source=source)),
                     {"longest": longest + 1 + len(UNKNOWN_NAME), "unknown": UNKNOWN_NAME, "separator": SEPARATOR})
    op.create_index("ix_martyr_name_grams_gram", "martyr_name_grams", ["gram", "name_pinyin", "martyr_id"],
                    unique=False)
    op.create_index("ix_martyr_name_grams_martyr_id", "martyr_name_grams", ["martyr_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_martyr_name_grams_martyr_id", table_name="martyr_name_grams")
    op.drop_index("ix_martyr_name_grams_gram", table_name="martyr_name_grams")
    op.drop_table("martyr_name_grams")
