"""Whether a text mentions a skill's keywords: whole words, case-sensitive only when
the keyword has an upper-case letter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from crawler.config import SkillConfig


@lru_cache(maxsize=512)
def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """How ``keyword`` is recognised in a text."""
    # Whole-word match; a keyword with an upper-case letter is matched case-sensitively
    # (``Phoenix.Token``), an all-lower-case one is not (``stream`` matches ``Stream``).
    flags = 0 if _case_sensitive(keyword) else re.IGNORECASE
    return re.compile(r"(?<![\w.-])" + re.escape(keyword) + r"(?![\w-])", flags)


def _case_sensitive(keyword: str) -> bool:
    return keyword != keyword.lower()


# Besides its other case, re.IGNORECASE lets an ASCII letter match four more characters
# (see the ``re`` docs): mapping them first makes every case-insensitive match of an
# ASCII keyword a plain substring of the folded text.
_IGNORECASE_EXTRAS = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))


def fold(text: str) -> str:
    """``text`` lower-cased for the keyword pre-filter, with its offsets unchanged.

    Only U+0130 lower-cases to two characters, and it is mapped to ``i`` beforehand.
    """
    if not text.isascii():
        for char, letter in _IGNORECASE_EXTRAS:
            if char in text:  # rare: replace() only then (str.translate is slow)
                text = text.replace(char, letter)
    return text.lower()


def mentions(keyword: str, text: str, folded: str | None = None) -> bool:
    """Whether ``text`` mentions ``keyword`` (``keyword_pattern(keyword).search(text)``).

    The pattern is tried only where the keyword's literal text occurs (in ``folded``,
    i.e. ``fold(text)``, for a case-insensitive keyword): a whole-text search with a
    leading look-behind would try every offset of a long page. ``match`` at an offset
    still sees the character before it, so the answer is the same.
    """
    pattern = keyword_pattern(keyword)
    if _case_sensitive(keyword):
        haystack = text
    elif keyword.isascii():
        haystack = fold(text) if folded is None else folded
    else:
        return pattern.search(text) is not None
    start = haystack.find(keyword)
    while start >= 0:
        if pattern.match(text, start):
            return True
        start = haystack.find(keyword, start + 1)
    return False


def mentioned_keywords(skill: SkillConfig, text: str, folded: str | None = None) -> list[str]:
    """The keywords of ``skill`` that ``text`` mentions, in the skill's order.

    ``folded`` is ``fold(text)`` when the caller already has it (several skills, one text).
    """
    if folded is None and any(k.isascii() and not _case_sensitive(k) for k in skill.keywords):
        folded = fold(text)
    return [k for k in skill.keywords if mentions(k, text, folded)]


def mentions_any(skills: Sequence[SkillConfig], text: str) -> bool:
    """Whether ``text`` mentions a keyword of any of ``skills``."""
    folded = fold(text)
    return any(mentions(k, text, folded) for skill in skills for k in skill.keywords)
