"""The MIME types the server speaks, with the aliases clients send for them."""

from __future__ import annotations

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
NPY = "application/x-npy"

#: Every type the server decodes and encodes, in the order error messages list them.
SUPPORTED: tuple[str, ...] = (CSV, JSON, JSONLINES, NPY)

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


def canonical(media_type: str) -> str:
    """Return the canonical name of a bare media type (no parameters), lower-cased."""
    lowered = media_type.strip().lower()
    return ALIASES.get(lowered, lowered)
