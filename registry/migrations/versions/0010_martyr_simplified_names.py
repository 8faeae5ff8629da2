"""Names stored in traditional characters indexed under their simplified form too (martyr_simplified_names).

The roll's search converts a traditional query to simplified, but a name stored in traditional characters
(陳華明) was indexed only as stored, so a simplified query (陈) missed it. This revision adds the table of
simplified forms (a row only for a name whose simplified form differs) and re-indexes those martyrs: their
grams become those of the name and of its simplified form. Names that convert to themselves keep the grams
0009 gave them. The indexing is written out here, frozen, rather than taken from the services.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UNKNOWN_NAME = "无名烈士"
SEPARATOR = "\x1f"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_CHUNK = 20000


def _indexed_text(name, is_unknown) -> str:
    # As the index of 0009: ASCII letters folded, 无名烈士 joined on for an unknown martyr lacking it.
    text = (name or "").translate(_ASCII_LOWER)
    if is_unknown and UNKNOWN_NAME not in text:
        text = f"{text}{SEPARATOR}{UNKNOWN_NAME}" if text else UNKNOWN_NAME
    return text


def _grams(*texts: str) -> list[str]:
    # The distinct characters and adjacent pairs of each text, together.
    seen: dict[str, None] = {}
    for text in texts:
        for size in (1, 2):
            for i in range(len(text) - size + 1):
                seen.setdefault(text[i:i + size], None)
    return list(seen)


def upgrade() -> None:
    # A plain application table (not registered in gpkg_contents), derived like martyr_name_grams.
    op.create_table(
        "martyr_simplified_names",
        sa.Column("martyr_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("martyr_id"),
    )
    import opencc  # the converter of the roll's queries (OpenCC's t2s table)

    converter = opencc.OpenCC("t2s")
    conn = op.get_bind()
    grams = sa.table("martyr_name_grams", sa.column("gram"), sa.column("martyr_id"), sa.column("name_pinyin"))
    names = sa.table("martyr_simplified_names", sa.column("martyr_id"), sa.column("name"))
    read = sa.text("SELECT id, name, name_pinyin, is_unknown FROM martyrs WHERE id > :after ORDER BY id LIMIT :n")
    after = -1
    while True:
        rows = conn.execute(read, {"after": after, "n": _CHUNK}).all()
        if not rows:
            break
        after = rows[-1][0]
        new_grams, new_names = [], []
        for martyr_id, name, pinyin, unknown in rows:
            simple = converter.convert(name) if name else name
            if simple == name:
                continue
            new_names.append({"martyr_id": martyr_id, "name": simple})
            new_grams.extend({"gram": g, "martyr_id": martyr_id, "name_pinyin": pinyin}
                             for g in _grams(_indexed_text(name, unknown), _indexed_text(simple, unknown)))
        if new_names:
            ids = [row["martyr_id"] for row in new_names]
            conn.execute(sa.delete(grams).where(grams.c.martyr_id.in_(ids)))
            conn.execute(sa.insert(grams), new_grams)
            conn.execute(sa.insert(names), new_names)


def downgrade() -> None:
    # Back to grams of the names as stored: the grams only a simplified form gave go with the table.
    conn = op.get_bind()
    grams = sa.table("martyr_name_grams", sa.column("gram"), sa.column("martyr_id"), sa.column("name_pinyin"))
    rows = conn.execute(sa.text(
        "SELECT m.id, m.name, m.name_pinyin, m.is_unknown FROM martyrs AS m "
        "JOIN martyr_simplified_names AS s ON s.martyr_id = m.id")).all()
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        conn.execute(sa.delete(grams).where(grams.c.martyr_id.in_([r[0] for r in chunk])))
        new_grams = [{"gram": g, "martyr_id": r[0], "name_pinyin": r[2]}
                     for r in chunk for g in _grams(_indexed_text(r[1], r[3]))]
        if new_grams:
            conn.execute(sa.insert(grams), new_grams)
    op.drop_table("martyr_simplified_names")
