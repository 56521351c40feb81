"""SageMaker's infrastructure prices for a buyer's batch transform: the table smkit ships
(``sagemaker-batch-transform-us-east-1.json``, with its source, date and how far it was
checked), and the buyer's own prices over it (``--infra-price TYPE=USD`` or a file).

A price file is the shipped file's format (``hourly`` plus ``source`` and ``as_of``), or a
plain ``{"ml.m5.large": 0.115, ...}`` mapping. A plan always says which table its figures
came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from smkit.core.errors import UserError

#: The table smkit ships (package data beside this module).
SHIPPED = "sagemaker-batch-transform-us-east-1.json"


@dataclass(frozen=True)
class PriceTable:
    """On-demand USD per instance-hour by instance type, and where the figures came from."""

    hourly: Mapping[str, float]
    source: str
    as_of: str
    region: str = "us-east-1"
    verified: bool = False
    note: str = ""
    #: Instance types whose price the buyer gave (shown as "yours").
    given: frozenset[str] = field(default_factory=frozenset)

    def price(self, instance_type: str) -> float | None:
        """USD per instance-hour, or None when the table has no price for the type."""
        return self.hourly.get(instance_type)

    def provenance(self, instance_type: str) -> str:
        """Where ``instance_type``'s price came from, in a few words."""
        if instance_type in self.given:
            return "your --infra-price"
        checked = "" if self.verified else ", not checked against AWS's page"
        return f"{self.source}, as of {self.as_of}{checked}"


def _table(doc: Any, where: str) -> PriceTable:
    """A PriceTable from a parsed price file; UserError naming the fix."""
    if not isinstance(doc, Mapping):
        raise UserError(f"{where}: a price file is a JSON object ({{\"hourly\": {{TYPE: USD}}}} "
                        "or {TYPE: USD}); fix the file")
    hourly = doc.get("hourly", doc)
    if not isinstance(hourly, Mapping):
        raise UserError(f"{where}: \"hourly\" must map instance types to USD; fix the file")
    prices: dict[str, float] = {}
    for itype, value in hourly.items():
        if not str(itype).startswith("ml."):
            if "hourly" in doc:
                raise UserError(f"{where}: {itype!r} is not an ml.* instance type; fix the file")
            continue  # a plain mapping's metadata keys are not prices
        prices[str(itype)] = _usd(value, f"{where}: {itype}")
    return PriceTable(prices, str(doc.get("source", where)), str(doc.get("as_of", "not stated")),
                      str(doc.get("region", "us-east-1")), bool(doc.get("verified", False)),
                      str(doc.get("note", "")))


def _usd(value: Any, what: str) -> float:
    try:
        usd = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a price in USD per instance-hour, got {value!r}") \
            from None
    if not usd >= 0 or usd == float("inf"):
        raise UserError(f"{what} must be a non-negative price in USD per instance-hour, "
                        f"got {value!r}")
    return usd


def shipped() -> PriceTable:
    """The table smkit ships."""
    text = files(__name__).joinpath(SHIPPED).read_text(encoding="utf-8")
    return _table(json.loads(text), SHIPPED)


def load(path: Path) -> PriceTable:
    """A buyer's price file; UserError naming what to fix."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"--infra-price {path}: cannot read it ({e.strerror}); give "
                        "TYPE=USD or a readable JSON file") from None
    except ValueError as e:
        raise UserError(f"--infra-price {path} is not JSON ({e}); give TYPE=USD or a JSON "
                        "file of {TYPE: USD}") from None
    return _table(doc, f"--infra-price {path}")


def parse_override(text: str) -> tuple[str, float]:
    """``ml.m5.large=0.115`` -> ``("ml.m5.large", 0.115)``; UserError naming the fix."""
    itype, sep, value = text.partition("=")
    itype = itype.strip()
    if not sep or not itype.startswith("ml."):
        raise UserError(f"--infra-price {text!r}: give TYPE=USD (e.g. ml.m5.large=0.115) or a "
                        "JSON price file")
    return itype, _usd(value.strip(), f"--infra-price {itype}")


def with_buyer_prices(base: PriceTable, given: Iterable[str]) -> PriceTable:
    """``base`` with the buyer's ``--infra-price`` values over it: ``TYPE=USD`` pairs, or
    files (read in turn, later ones winning)."""
    table = base
    for item in given:
        if "=" in item and not Path(item).exists():
            itype, usd = parse_override(item)
            mine = {itype: usd}
            table = replace(table, hourly={**table.hourly, **mine},
                            given=table.given | frozenset(mine))
        else:
            theirs = load(Path(item))
            table = replace(table, hourly={**table.hourly, **theirs.hourly},
                            given=table.given | frozenset(theirs.hourly))
    return table
