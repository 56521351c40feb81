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


#: How a request body of each type carries records: the words a listing shows buyers.
INPUT_FORMAT: dict[str, str] = {
    CSV: "one record per line, no header, UTF-8; a cell holding a comma, a quote or a newline "
         "is quoted",
    JSON: 'a list of rows ([[...], ...]) or of records keyed by column name ([{...}, ...]), '
          'or either inside {"instances": [...]}',
    JSONLINES: "one row (a JSON list) or one record (a JSON object keyed by column name) per "
               "line",
    NPY: "one 2-D NumPy array (.npy, saved without pickled objects), one row per record",
}

#: How a request of each text type writes a missing value.
MISSING_VALUE: dict[str, str] = {CSV: "an empty cell", JSON: "null", JSONLINES: "null"}

#: How an answer of each type carries one result per record.
OUTPUT_FORMAT: dict[str, str] = {
    CSV: "one line per record",
    JSON: '{"predictions": [...]}, one entry per record',
    JSONLINES: "one JSON value per line, one line per record",
    NPY: "a NumPy array (.npy) with one entry per record",
}

#: The file suffix a buyer's file of each type gets (the first of BY_SUFFIX's spellings).
SUFFIX: dict[str, str] = {media: next(s for s, m in BY_SUFFIX.items() if m == media)
                          for media in SUPPORTED}
