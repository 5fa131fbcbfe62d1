"""Readability of item wording and the finding record of item reviews (used by the pool and the wording review).

:func:`flesch_kincaid_grade` (Kincaid, Fishburne, Rogers & Chissom, 1975) and :class:`Finding`, the record both
``ItemPool.check`` and :func:`allyscale.wording.review_wording` return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Finding", "flesch_kincaid_grade", "WORD"]

#: a word of item text
WORD = re.compile(r"[A-Za-z']+")
_WORD = WORD


@dataclass(frozen=True)
class Finding:
    """An item-writing problem found by ``ItemPool.check`` / :func:`allyscale.wording.review_wording`."""

    item: str
    rule: str
    message: str
    severity: str = "warning"
    form: str = ""
    source: str = ""


def _syllables(word: str) -> int:
    """Syllable estimate by vowel groups (adequate for a readability screen)."""
    w = word.lower().strip("'")
    if not w:
        return 0
    groups = re.findall(r"[aeiouy]+", w)
    n = len(groups)
    if w.endswith("e") and not w.endswith(("le", "ee")) and n > 1:
        n -= 1
    return max(n, 1)


def flesch_kincaid_grade(text: str) -> float:
    """Flesch–Kincaid grade level of one sentence-like text (Kincaid et al., 1975).

    ``0.39 * words/sentences + 11.8 * syllables/words - 15.59``, with one sentence per
    item and syllables estimated from vowel groups.
    """
    words = _WORD.findall(text)
    if not words:
        return 0.0
    sentences = max(1, len(re.findall(r"[.!?]+", text)))
    syll = sum(_syllables(w) for w in words)
    return 0.39 * len(words) / sentences + 11.8 * syll / len(words) - 15.59
