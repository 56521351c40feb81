"""The JSONPath subset batch transform's InputFilter and OutputFilter accept.

SageMaker documents these operators: ``$`` (the root), ``.name`` and ``['name', ...]``
(children), ``[n, ...]`` (indexes, negative from the end), ``[start:end]`` (slices) and ``*``
(wildcard). No deep scan (``..``), no filter or script expressions.

This is a small parser rather than a generic JSONPath library because SageMaker shapes the
result differently from a list of matches: ``$['id','SageMakerOutput']`` keeps an object with
those keys, ``$[0,-1]`` and ``$[1:]`` keep a list, ``$.features`` gives the value itself, and an
index or key that is not there is an error rather than an empty match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INT = re.compile(r"-?\d+")


class JsonPathError(ValueError):
    """The expression is not in the supported subset (raised when parsing)."""


class FilterError(ValueError):
    """The expression does not fit a record (a missing key, an index out of range)."""


@dataclass(frozen=True)
class Slice:
    """``[start:end]`` with either end optional, as in Python."""

    start: int | None
    end: int | None


#: One selector inside brackets: a key, an index, a slice or the wildcard.
Selector = str | int | Slice | None


@dataclass(frozen=True)
class Step:
    """One step of a path: the selectors of one ``.name`` or ``[...]``."""

    selectors: tuple[Selector, ...]

    @property
    def single(self) -> bool:
        """True when the step picks exactly one value (one key or one index)."""
        return len(self.selectors) == 1 and isinstance(self.selectors[0], (str, int))


@dataclass(frozen=True)
class JsonPath:
    """A parsed expression; ``apply`` evaluates it on a parsed record."""

    text: str
    steps: tuple[Step, ...]

    @property
    def is_root(self) -> bool:
        """True for ``$``, which selects the whole record."""
        return not self.steps

    @property
    def index_only(self) -> bool:
        """True when every selector is an index, slice or wildcard (all CSV can use)."""
        return all(not isinstance(s, str) for step in self.steps for s in step.selectors)

    def apply(self, value: Any) -> Any:
        """Select from ``value``; raise FilterError naming the expression when it does not fit."""
        return _apply(self, self.steps, value)


def parse(text: str) -> JsonPath:
    """Parse ``text``; raise JsonPathError saying what is not supported."""
    src = text.strip()
    if not src.startswith("$"):
        raise JsonPathError(f"{text!r} must start with '$' (for example '$[1:]' or '$.features')")
    if ".." in src:
        raise JsonPathError(f"{text!r}: deep scan '..' is not supported by batch transform")
    i = 1
    steps: list[Step] = []
    while i < len(src):
        c = src[i]
        if c == ".":
            if src.startswith("*", i + 1):
                steps.append(Step((None,)))
                i += 2
                continue
            m = _NAME.match(src, i + 1)
            if not m:
                raise JsonPathError(f"{text!r}: expected a name after '.' at position {i + 1}")
            steps.append(Step((m.group(0),)))
            i = m.end()
        elif c == "[":
            end = _closing_bracket(src, i, text)
            steps.append(Step(tuple(_selectors(src[i + 1 : end], text))))
            i = end + 1
        else:
            raise JsonPathError(f"{text!r}: unexpected {c!r} at position {i}")
    return JsonPath(text, tuple(steps))


def _closing_bracket(src: str, start: int, text: str) -> int:
    quote: str | None = None
    for j in range(start + 1, len(src)):
        ch = src[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "]":
            return j
    raise JsonPathError(f"{text!r}: '[' at position {start} is never closed")


def _split_top(inner: str) -> list[str]:
    parts, buf, quote = [], "", None
    for ch in inner:
        if quote:
            buf += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            buf += ch
        elif ch == ",":
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf)
    return [p.strip() for p in parts]


def _selectors(inner: str, text: str) -> list[Selector]:
    if inner.strip().startswith("?") or inner.strip().startswith("("):
        raise JsonPathError(f"{text!r}: filter and script expressions are not supported")
    out: list[Selector] = []
    for part in _split_top(inner):
        if not part:
            raise JsonPathError(f"{text!r}: empty selector in [{inner}]")
        if part == "*":
            out.append(None)
        elif part[0] in "'\"":
            if len(part) < 2 or part[-1] != part[0]:
                raise JsonPathError(f"{text!r}: unterminated quoted name {part}")
            out.append(part[1:-1])
        elif ":" in part:
            bounds = [b.strip() for b in part.split(":")]
            if len(bounds) != 2 or any(b and not _INT.fullmatch(b) for b in bounds):
                raise JsonPathError(
                    f"{text!r}: slice [{part}] must be [start:end] with whole numbers"
                )
            out.append(Slice(*(int(b) if b else None for b in bounds)))
        elif _INT.fullmatch(part):
            out.append(int(part))
        else:
            raise JsonPathError(
                f"{text!r}: [{part}] is not an index, a slice, '*' or a quoted name"
            )
    return out


def _apply(path: JsonPath, steps: tuple[Step, ...], value: Any) -> Any:
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if step.single:
        return _apply(path, rest, _one(path, value, step.selectors[0]))
    if all(isinstance(s, str) for s in step.selectors) and isinstance(value, dict):
        picked = {str(s): _one(path, value, s) for s in step.selectors}
        return {k: _apply(path, rest, v) for k, v in picked.items()}
    items: list[Any] = []
    for sel in step.selectors:
        if sel is None:
            items.extend(value.values() if isinstance(value, dict) else _as_list(path, value))
        elif isinstance(sel, Slice):
            items.extend(_as_list(path, value)[sel.start : sel.end])
        else:
            items.append(_one(path, value, sel))
    return [_apply(path, rest, v) for v in items]


def _as_list(path: JsonPath, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise FilterError(f"{path.text}: expected an array, got {_kind(value)}")
    return value


def _one(path: JsonPath, value: Any, sel: Selector) -> Any:
    if isinstance(sel, str):
        if not isinstance(value, dict):
            raise FilterError(f"{path.text}: cannot take key {sel!r} of {_kind(value)}")
        if sel not in value:
            keys = ", ".join(list(value)[:8]) or "(none)"
            raise FilterError(f"{path.text}: the record has no key {sel!r} (keys: {keys})")
        return value[sel]
    if isinstance(sel, int):
        items = _as_list(path, value)
        if not -len(items) <= sel < len(items):
            raise FilterError(
                f"{path.text}: index {sel} is out of range for a record of {len(items)} values"
            )
        return items[sel]
    raise FilterError(f"{path.text}: unsupported selector")  # pragma: no cover


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"
