"""identity: authors keyed by a salted hash of their normalised identity; rejected records carry
their author; rejection reasons without record text

Existing stores keep every author's pseudonym. ``authors.identity_hash`` starts empty: the next
ingest that sees an author fills it in, finding the row by platform and normal handle or by the
old pseudonym (of the handle as written), so the author's history goes on under the same
pseudonym (``monitor.store.posts.upsert_authors``). Rows that an earlier purge split (a
placeholder row and a new row with the same platform and pseudonym) are merged here into one.
Rejection reasons that quoted a field value lose it unless it is a short date-like value, and
every reason is cut to 300 characters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09
"""

import ast
import re

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PLACEHOLDER = "[purged]:"
MAX_REASON = 300
# The reasons of 0001-0005 that quoted a field value (a Python repr).
_QUOTED = re.compile(r"^(?P<head>unparsable date:? |date )(?P<value>'.*?'|\".*?\")"
                     r"(?P<tail> in column '[^']*'| is out of range in UTC)?$", re.DOTALL)
_ACTIVITY = re.compile(r"^not a post \((?P<kind>.*) activity\)$", re.DOTALL)
_DATE_LIKE = re.compile(r"[0-9A-Za-z:+\-./, ]+")
_DATE_WORDS = frozenset(
    "mon tue wed thu fri sat sun jan feb mar apr may jun jul aug sep oct nov dec "
    "t z am pm gmt ut utc est edt cst cdt mst mdt pst pdt".split()
)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("authors", sa.Column("identity_hash", sa.String(64), nullable=True))
    op.create_index("uq_authors_identity_hash", "authors", ["identity_hash"], unique=True)
    # On SQLite the batch copies `rejected` into a new table (nothing refers to it, so nothing
    # cascades); `authors` only gains a column, never rebuilt: posts refer to it.
    with op.batch_alter_table("rejected") as batch:
        batch.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_rejected_author_id_authors", "authors", ["author_id"], ["id"],
                                 ondelete="SET NULL")
    op.create_index("ix_rejected_author_id", "rejected", ["author_id"])
    _merge_split_authors(bind)
    _scrub_reasons(bind)


def _merge_split_authors(bind: sa.Connection) -> None:
    """One row per (platform, pseudonym): a purge replaced the handle, and a later post of the same
    handle made a second row with the same pseudonym. The row with a handle is kept."""
    groups = bind.execute(sa.text(
        "SELECT platform, pseudonym FROM authors GROUP BY platform, pseudonym HAVING count(*) > 1")).all()
    for platform, pseudonym in groups:
        rows = bind.execute(sa.text("SELECT id, handle FROM authors WHERE platform = :p AND pseudonym = :s "
                                    "ORDER BY id"), {"p": platform, "s": pseudonym}).all()
        keep = next((i for i, handle in rows if not handle.startswith(PLACEHOLDER)), rows[0][0])
        for other, _ in rows:
            if other != keep:
                bind.execute(sa.text("UPDATE posts SET author_id = :keep WHERE author_id = :other"),
                             {"keep": keep, "other": other})
                bind.execute(sa.text("DELETE FROM authors WHERE id = :other"), {"other": other})


def _shown(value: object) -> str:
    """The value as 0006's reasons show it (monitor.ingest.text.shown_value, frozen here)."""
    if isinstance(value, str):
        words = re.findall(r"[A-Za-z]+", value)
        if len(value) <= 40 and _DATE_LIKE.fullmatch(value) and all(w.lower() in _DATE_WORDS for w in words):
            return repr(value)
        return f"(a text of {len(value):,} characters)"
    return repr(value)[:40]


def scrubbed(reason: str) -> str:
    """A stored reason without the record text that earlier versions quoted in it."""
    quoted = _QUOTED.match(reason)
    if quoted:
        try:
            value: object = ast.literal_eval(quoted.group("value"))
        except (ValueError, SyntaxError):
            value = quoted.group("value")
        head = "unparsable date " if quoted.group("head").startswith("unparsable") else "date "
        return f"{head}{_shown(value)}{quoted.group('tail') or ''}"[:MAX_REASON]
    activity = _ACTIVITY.match(reason)
    if activity:
        kind = activity.group("kind")
        return f"not a post ({kind if kind.isalpha() and len(kind) <= 40 else 'unknown'} activity)"
    return " ".join(reason.split())[:MAX_REASON]


def _scrub_reasons(bind: sa.Connection) -> None:
    rows = bind.execute(sa.text(
        "SELECT id, reason FROM rejected WHERE reason LIKE 'unparsable date%' OR reason LIKE 'date %' "
        "OR reason LIKE 'not a post (%' OR length(reason) > :cap"), {"cap": MAX_REASON}).all()
    changed = [{"id": i, "reason": new} for i, reason in rows if (new := scrubbed(reason)) != reason]
    if changed:
        bind.execute(sa.text("UPDATE rejected SET reason = :reason WHERE id = :id"), changed)


def downgrade() -> None:
    op.drop_index("ix_rejected_author_id", table_name="rejected")
    with op.batch_alter_table("rejected") as batch:
        batch.drop_constraint("fk_rejected_author_id_authors", type_="foreignkey")
        batch.drop_column("author_id")
    op.drop_index("uq_authors_identity_hash", table_name="authors")
    op.drop_column("authors", "identity_hash")
