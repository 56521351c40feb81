"""The MIME types the server speaks, with the aliases clients send for them."""

from __future__ import annotations

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"

#: Every type the server decodes and encodes, in the order error messages list them.
SUPPORTED: tuple[str, ...] = (CSV, JSON, JSONLINES, NPY)
#: The types whose bodies are UTF-8 text (a listing can show a sample of these inline).
TEXT: tuple[str, ...] = (CSV, JSON, JSONLINES)

#: The type of a file by its suffix (lower case, with the dot).
BY_SUFFIX: dict[str, str] = {
    ".csv": CSV,
    ".json": JSON,
    ".jsonl": JSONLINES,
    ".jsonlines": JSONLINES,
    ".npy": NPY,
}

#: Spellings seen in the wild for the same formats.
ALIASES: dict[str, str] = {
    "application/csv": CSV,
    "text/x-csv": CSV,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/json-lines": JSONLINES,
    "application/x-ndjson": JSONLINES,
    "application/npy": NPY,
}


def for_suffix(suffix: str) -> str | None:
    """The type of a file with this suffix (``.CSV`` as ``.csv``), or None when unknown."""
    return BY_SUFFIX.get(suffix.lower())


def canonical(media_type: str) -> str:
    """Return the canonical name of a bare media type (no parameters), lower-cased."""
    lowered = media_type.strip().lower()
    return ALIASES.get(lowered, lowered)
