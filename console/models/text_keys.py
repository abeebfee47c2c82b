"""Folded search text and natural sort keys of names: one function each, for the ORM, the migration and the bench."""
from __future__ import annotations

import re
import unicodedata

SEARCH_KEY_MAX = 500
NAME_KEY_MAX = 255
DIGITS_WIDTH = 12  # digit runs padded to this width sort by value ("Flat 5" before "Flat 43")
_DIGITS = re.compile(r"\d+")


def fold(text: str | None) -> str:
    """Text without case or accents ("Málaga" and "MALAGA" both give "malaga")."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def search_key(name: str | None, city: str | None, external_ref: str | None) -> str:
    """What a property's search matches: its name, city and external reference, folded."""
    # A separator no search box can send, so a term never matches across two fields.
    return "\n".join(fold(part) for part in (name, city, external_ref))[:SEARCH_KEY_MAX]


def name_key(name: str | None) -> str:
    """A key that sorts names naturally: folded, each run of digits padded to DIGITS_WIDTH."""
    padded = _DIGITS.sub(lambda m: m.group().lstrip("0").rjust(DIGITS_WIDTH, "0"), fold(name).strip())
    return padded[:NAME_KEY_MAX]
