"""How a rule is written down and applied: ``Rule``, ``Violation``, field specs and the walker.

A field rule is data: a ``FieldSpec`` names a field of a change type's details by path
(``DeliveryOptions[].Details.X.RepositoryUrl``; ``[]`` walks every list item) and lists its
constraints. ``expand`` turns each constraint into one ``Rule`` with a stable id, the AWS error
code it fails with, its limit and the document that says so. Cross-field rules (in
``cross.py``) are small functions that carry a ``Rule`` record the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

INVALID_INPUT = "INVALID_INPUT"
ASSET = "ASSET_VALIDATION_EXCEPTION"
RECOMMENDED = "INVALID_RECOMMENDED_INSTANCE_TYPE"
PRICING_REQUIRED = "UPDATE_PRICING_REQUIRED"
#: Rules AWS checks synchronously in StartChangeSet (HTTP 422 ValidationException).
SYNC = "ValidationException"

JSON_TYPES: dict[type, str] = {str: "string", list: "list", dict: "object", bool: "boolean",
                               int: "integer"}


@dataclass(frozen=True)
class Named:
    """A regular expression with the words a message uses for it (``re.match`` semantics)."""

    regex: str
    words: str

    def ok(self, value: str) -> bool:
        """True when the value matches, as the published schemas test it (from the start)."""
        return re.match(self.regex, value) is not None


@dataclass(frozen=True)
class Rule:
    """One documented constraint.

    ``scope`` is the entity kind (``Product``, ``Offer``, ``StartChangeSet``), ``change`` the
    change type (or the request part), ``path`` the field, ``kind`` what is checked.
    """

    scope: str
    change: str
    path: str
    kind: str
    limit: Any
    code: str
    source: str

    @property
    def id(self) -> str:
        """A stable name: ``Product.UpdateInformation.SearchKeywords.min_items``."""
        return f"{self.scope}.{self.change}.{self.path}.{self.kind}"


@dataclass(frozen=True)
class Violation:
    """A rule broken at one concrete place (``DeliveryOptions[0].Details...``)."""

    rule: Rule
    where: str
    actual: Any
    text: str

    @property
    def message(self) -> str:
        """The message both tools print: what is wrong, the limit, the value, the rule id."""
        return f"{self.where}: {self.text} [rule {self.rule.id}]"


@dataclass(frozen=True)
class FieldSpec:
    """A field of a change type's details and its constraints (each becomes one Rule)."""

    path: str
    type: type
    source: str
    required: bool = False
    min_len: int | None = None
    max_len: int | None = None
    pattern: Named | None = None
    url: Named | None = None
    charset: Named | None = None
    enum: tuple[str, ...] | None = None
    min_items: int | None = None
    max_items: int | None = None
    absent: bool = False
    #: A rule that needs a small function: (kind, limit, check(value) -> error text or None).
    custom: tuple[str, Any, Callable[[Any], str | None]] | None = None
    code: str = INVALID_INPUT
    #: A shape used in several places names its rules once: (shape name, field in the shape).
    shape: tuple[str, str] | None = None


@dataclass
class ChangeRules:
    """The rules of one change type, as field specs expanded to rules."""

    scope: str
    change: str
    fields: list[FieldSpec] = field(default_factory=list)

    def rules(self) -> Iterator[tuple[Rule, FieldSpec]]:
        """Every rule these specs make, with the spec it came from."""
        for spec in self.fields:
            scope, change, path = ("Shape", *spec.shape) if spec.shape else (
                self.scope, self.change, spec.path)
            for kind, limit, code in _constraints(spec):
                yield Rule(scope, change, path, kind, limit, code, spec.source), spec


def _constraints(spec: FieldSpec) -> Iterator[tuple[str, Any, str]]:
    if spec.absent:
        yield "absent", None, INVALID_INPUT
        return
    if spec.required:
        yield "required", True, INVALID_INPUT
    for kind, limit in (("min_length", spec.min_len), ("max_length", spec.max_len),
                        ("min_items", spec.min_items), ("max_items", spec.max_items),
                        ("enum", spec.enum)):
        if limit is not None and not (kind == "min_items" and limit == 0):
            yield kind, limit, INVALID_INPUT
    if spec.pattern is not None:
        yield "pattern", spec.pattern.regex, spec.code
    if spec.url is not None:
        yield "url", spec.url.regex, ASSET
    if spec.charset is not None:
        yield "charset", spec.charset.regex, INVALID_INPUT
    if spec.custom is not None:
        yield spec.custom[0], spec.custom[1], spec.code


def split_path(path: str) -> list[str]:
    """``A[].B`` -> ``["A", "[]", "B"]``."""
    out: list[str] = []
    for part in path.split("."):
        if part.endswith("[]"):
            out += [part[:-2], "[]"] if part[:-2] else ["[]"]
        else:
            out.append(part)
    return out


def walk(doc: Any, parts: list[str], where: str = "") -> Iterator[tuple[str, Any]]:
    """Every (concrete path, value) the path reaches; missing keys and wrong types stop."""
    if not parts:
        yield where, doc
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(doc, list):
            for i, item in enumerate(doc):
                yield from walk(item, rest, f"{where}[{i}]")
        return
    if isinstance(doc, dict) and head in doc and doc[head] is not None:
        yield from walk(doc[head], rest, f"{where}.{head}" if where else head)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_ok(value: Any, want: type) -> bool:
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, want)


def check_spec(change: ChangeRules, details: dict[str, Any], type_rule: Rule) -> list[Violation]:
    """Apply one change type's field rules to its details.

    Every field is first checked for its JSON type (one ``type_rule`` violation per place);
    a value of the wrong type gets no other rule.
    """
    out: list[Violation] = []
    mistyped: set[str] = set()
    for spec in change.fields:
        for where, value in walk(details, split_path(spec.path)):
            if where not in mistyped and not _type_ok(value, spec.type):
                mistyped.add(where)
                out.append(Violation(
                    type_rule, where, value,
                    f"must be a {JSON_TYPES[spec.type]}, got {type(value).__name__}"))
    for rule, spec in change.rules():
        parts = split_path(spec.path)
        if rule.kind in ("required", "absent"):
            parent, key = parts[:-1], parts[-1]
            if key == "[]":
                continue
            for where, node in walk(details, parent):
                if not isinstance(node, dict):
                    continue
                at = f"{where}.{key}" if where else key
                present = node.get(key) is not None
                if rule.kind == "required" and not present:
                    out.append(Violation(rule, at, None, f"{key} is required"))
                if rule.kind == "absent" and key in node:
                    out.append(Violation(rule, at, node[key],
                                         f"{key} is not accepted in {rule.change}"))
            continue
        for where, value in walk(details, parts):
            if where in mistyped or not _type_ok(value, spec.type):
                continue
            text = _apply(rule, spec, value)
            if text is not None:
                out.append(Violation(rule, where, value, text))
    return out


def _apply(rule: Rule, spec: FieldSpec, value: Any) -> str | None:
    k, limit = rule.kind, rule.limit
    if k == "min_length" and len(value) < limit:
        return f"needs at least {limit} character(s), got {len(value)}"
    if k == "max_length" and len(value) > limit:
        return f"allows at most {limit} characters, got {len(value)}"
    if k == "min_items" and len(value) < limit:
        return f"takes at least {limit} item(s), got {len(value)}"
    if k == "max_items" and len(value) > limit:
        return f"takes at most {limit} item(s), got {len(value)}"
    if k == "enum" and value not in limit:
        return f"must be one of {', '.join(limit)}, got {_short(value)}"
    for kind, named in (("pattern", spec.pattern), ("url", spec.url),
                        ("charset", spec.charset)):
        if k == kind and named is not None and not named.ok(value):
            return f"must be {named.words} (/{named.regex}/), got {_short(value)}"
    if spec.custom is not None and k == spec.custom[0]:
        return spec.custom[2](value)
    return None
