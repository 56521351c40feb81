"""The model's input signature: its columns in order, each column's kind, and whether it
may be missing.

Standard library only: ``smkit package`` derives it (inside the product image) and stores
it in the manifest, the server decodes every request by it, and the listing and
``smkit openapi`` describe it to buyers. Stored as::

    {"columns": [{"name": "keyword", "kind": "string", "optional": true}, ...],
     "frame": true}       # the model was fitted on a DataFrame (it wants the names)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NUMBER = "number"
INTEGER = "integer"
STRING = "string"
BOOLEAN = "boolean"
KINDS = (NUMBER, INTEGER, STRING, BOOLEAN)

#: How each kind is named to a buyer (error messages, listing, OpenAPI descriptions).
KIND_PHRASE = {
    NUMBER: "a number",
    INTEGER: "an integer",
    STRING: "text",
    BOOLEAN: "a boolean (true or false)",
}
#: Spellings a boolean cell may take in CSV or JSON strings (case-insensitive).
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
_INTEGER_RE = re.compile(r"^\s*[+-]?\d+\s*$")


class SignatureError(ValueError):
    """A signature (stored or written by the seller) is malformed; the message says where."""


@dataclass(frozen=True)
class Column:
    """One input column."""

    name: str
    kind: str
    optional: bool = True

    def to_json(self) -> dict[str, Any]:
        """The stored form of this column."""
        return {"name": self.name, "kind": self.kind, "optional": self.optional}


@dataclass(frozen=True)
class Signature:
    """The columns a model takes, in order."""

    columns: tuple[Column, ...]
    #: True when the model was fitted on a DataFrame and needs the column names.
    frame: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Column kinds in order."""
        return tuple(c.kind for c in self.columns)

    def to_json(self) -> dict[str, Any]:
        """The stored form (what the manifest holds under ``signature``)."""
        return {"columns": [c.to_json() for c in self.columns], "frame": self.frame}

    @classmethod
    def from_json(cls, data: Any) -> Signature:
        """Read the stored form; raises SignatureError naming the bad part."""
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list):
            raise SignatureError("signature must be {'columns': [...], 'frame': bool}")
        columns = []
        for i, col in enumerate(data["columns"]):
            if not isinstance(col, Mapping) or not isinstance(col.get("name"), str):
                raise SignatureError(f"signature.columns[{i}] must have a string name")
            if col.get("kind") not in KINDS:
                raise SignatureError(
                    f"signature.columns[{i}] ({col['name']!r}): kind must be one of "
                    f"{', '.join(KINDS)}, not {col.get('kind')!r}"
                )
            optional = col.get("optional", True)
            if not isinstance(optional, bool):
                raise SignatureError(f"signature.columns[{i}] ({col['name']!r}): optional "
                                     "must be true or false")
            columns.append(Column(col["name"], col["kind"], optional))
        if not columns:
            raise SignatureError("signature.columns is empty")
        names = [c.name for c in columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SignatureError(f"signature: column names repeat: {', '.join(dupes)}")
        frame = data.get("frame", False)
        if not isinstance(frame, bool):
            raise SignatureError("signature.frame must be true or false")
        return cls(tuple(columns), frame)


def is_missing(value: Any) -> bool:
    """Empty cells, JSON null and NaN are missing values."""
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    return isinstance(value, float) and math.isnan(value)


def parses_as_number(value: Any) -> bool:
    """True for numbers (not booleans) and strings ``float()`` reads."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and bool(_INTEGER_RE.match(value))


def has_leading_zero(value: Any) -> bool:
    """A numeric-looking code such as ``"02134"`` (its zero would be lost as a number)."""
    if not isinstance(value, str):
        return False
    text = value.strip().lstrip("+-")
    return len(text) > 1 and text[0] == "0" and text[1].isdigit()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, str) and value.strip().lower() in ("true", "false")


def kind_of_values(values: Iterable[Any]) -> str | None:
    """The narrowest kind every non-missing value fits, or None when all are missing.

    Booleans only from true/false words or JSON booleans (0/1 stay integers); a code with a
    leading zero (``"02134"``) is a string, as a number would lose the zero.
    """
    present = [v for v in values if not is_missing(v)]
    if not present:
        return None
    if all(_boolean(v) for v in present):
        return BOOLEAN
    if any(has_leading_zero(v) for v in present):
        return STRING
    if all(_integral(v) for v in present):
        return INTEGER
    if all(parses_as_number(v) for v in present):
        return NUMBER
    return STRING


def default_names(width: int) -> tuple[str, ...]:
    """Names for a model fitted without column names: ``x1`` .. ``xN``."""
    return tuple(f"x{i + 1}" for i in range(width))


def apply_overrides(signature: Signature, overrides: Mapping[str, Any]) -> Signature:
    """The seller's ``signature:`` section of smkit.yaml applied over a derived signature.

    Each entry is ``name: kind`` or ``name: {kind: ..., optional: ...}``; a name the model
    does not take is an error naming the columns it does take.
    """
    by_name = {c.name: c for c in signature.columns}
    for name, value in overrides.items():
        if name not in by_name:
            raise SignatureError(
                f"signature.{name}: the model has no column {name!r}; its columns are "
                f"{', '.join(signature.names)}"
            )
        entry = value if isinstance(value, Mapping) else {"kind": value}
        kind = entry.get("kind", by_name[name].kind)
        optional = entry.get("optional", by_name[name].optional)
        if kind not in KINDS:
            raise SignatureError(f"signature.{name}: kind must be one of {', '.join(KINDS)}, "
                                 f"not {kind!r}")
        if not isinstance(optional, bool):
            raise SignatureError(f"signature.{name}: optional must be true or false")
        by_name[name] = Column(name, kind, optional)
    return Signature(tuple(by_name[c.name] for c in signature.columns), signature.frame)


def describe_columns(signature: Signature) -> list[str]:
    """One line per column for buyers: ``keyword (text, may be empty)``."""
    lines = []
    for c in signature.columns:
        extra = ", may be empty" if c.optional else ", required"
        lines.append(f"{c.name} ({KIND_PHRASE[c.kind]}{extra})")
    return lines


def example_value(column: Column) -> Any:
    """A placeholder value of the column's kind, for generated examples."""
    return {NUMBER: 1.5, INTEGER: 1, STRING: "text", BOOLEAN: True}[column.kind]


def json_schema_of(column: Column) -> dict[str, Any]:
    """The JSON Schema of one cell (null allowed when the column is optional)."""
    base = {NUMBER: "number", INTEGER: "integer", STRING: "string", BOOLEAN: "boolean"}
    kind: Any = base[column.kind]
    return {"type": [kind, "null"] if column.optional else kind}


def widths_match(
    signature: Signature, width: int | None, names: Sequence[str] | None
) -> str | None:
    """A problem when a stored signature does not fit the loaded model, else None."""
    if width is not None and len(signature.columns) != width:
        return (f"the signature has {len(signature.columns)} columns but the model takes "
                f"{width}")
    if names is not None and tuple(names) != signature.names:
        return (f"the signature's columns ({', '.join(signature.names)}) are not the model's "
                f"({', '.join(names)})")
    return None
