"""What a buyer's job costs in software: the listing's hourly batch price, times instance-hours.

The price comes from the seller's ``listing.yaml``, read with the one YAML loader and checked by
the listing's own ``Pricing`` model, so the buyer takes exactly the prices ``listing check``
takes (a price still holding ``listing init``'s placeholder is not stated yet).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from smkit.core.errors import UserError
from smkit.core.yamlfile import load_yaml
from smkit.listing.model import PLACEHOLDER, Pricing


def _stated(section: Mapping[str, Any]) -> dict[str, Any]:
    """The pricing section without the values that still hold the placeholder."""
    return {k: _stated(v) if isinstance(v, Mapping) else v for k, v in section.items()
            if not (isinstance(v, str) and PLACEHOLDER in v)}


def listing_pricing(listing: Path) -> Pricing | None:
    """The listing's ``pricing`` section as the listing's model reads it; None when the
    listing has none. UserError naming the field when a price is malformed."""
    data = load_yaml(listing, what="--listing", missing="give the listing.yaml of the product")
    section = data.get("pricing") if isinstance(data, dict) else None
    if not isinstance(section, Mapping):
        return None
    try:
        return Pricing.model_validate(_stated(section))
    except ValidationError as e:
        problems = [".".join(["pricing", *map(str, err["loc"])]) + ": " + err["msg"]
                    if err["loc"] else err["msg"].removeprefix("Value error, ")
                    for err in e.errors()]
        raise UserError(f"--listing {listing}: {'; '.join(problems)}; fix its pricing section "
                        f"(`smkit listing check {listing}` lists every problem)") from None


def batch_price(pricing: Pricing, instance_type: str) -> float | None:
    """The batch software price per instance-hour of ``instance_type``: 0 for a free
    product, ``pricing.batch``'s otherwise; None when the listing states none."""
    if pricing.model == "free":
        return 0.0
    price = pricing.batch.get(instance_type)
    return float(price) if price is not None else None


def hourly_price_from_listing(listing: Path, instance_type: str) -> float | None:
    """The listing's batch software price per instance-hour for ``instance_type``
    (:func:`batch_price`); None when the listing has no pricing or no such price."""
    pricing = listing_pricing(listing)
    return batch_price(pricing, instance_type) if pricing is not None else None


def software_cost(instance_count: int, seconds: float, hourly_price: float) -> float:
    """Marketplace's software charge: each instance's time in whole minutes (AWS Marketplace
    prorates hourly ML prices by the minute) at the listing's hourly price."""
    return instance_count * math.ceil(seconds / 60) / 60 * hourly_price


def billed_seconds(desc: Mapping[str, Any], fallback: float) -> float:
    """The job's run time from its start and end times, else ``fallback``."""
    start, end = desc.get("TransformStartTime"), desc.get("TransformEndTime")
    if start is not None and end is not None:
        return max(0.0, (end - start).total_seconds())
    return fallback
