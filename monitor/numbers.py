"""Numbers as emomon keeps and words them, defined once: the rounding of stored figures and plurals.

A leaf: the alert rules, the alert evidence, the reports and the command line all use it.
"""

from __future__ import annotations

from typing import Any

#: Decimal places of the figures kept in alert evidence, reports and JSON documents.
FIGURE_DIGITS = 4


def rounded(x: Any, digits: int = FIGURE_DIGITS) -> float | None:
    """``x`` as a float rounded to ``digits`` places; None (no value) stays None."""
    return None if x is None else round(float(x), digits)


def plural(n: object, word: str, many: str | None = None) -> str:
    """``1 source``, ``2 sources`` (``many`` for irregular plurals); ``n`` as it is written, e.g. a stored count."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
