"""A static HTML page showing the product as a buyer would see it (Jinja2, all text escaped)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from smkit.listing.changesets import Samples
from smkit.listing.model import Listing, long_description

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class PriceRow:
    """One instance type's line in the pricing table."""

    instance: str
    realtime: str
    batch: str
    recommended: bool


def price_rows(listing: Listing) -> list[PriceRow]:
    """Every supported instance type with its real-time and batch hourly price."""
    p, sup = listing.pricing, listing.delivery.supported_instance_types
    rec = listing.delivery.recommended_instance_types
    rows = []
    for it in dict.fromkeys([*sup.realtime, *sup.batch]):
        if it not in sup.realtime:
            rt = "not supported"
        elif p.model == "free":
            rt = "$0.00"
        elif p.model == "per-inference":
            rt = "per inference"
        else:
            rt = f"${p.realtime[it]}"
        if it not in sup.batch:
            bt = "not supported"
        elif p.model == "free":
            bt = "$0.00"
        else:
            bt = f"${p.batch[it]}"
        rows.append(PriceRow(it, rt, bt, it in (rec.realtime, rec.batch)))
    return rows


_SPACES = re.compile(r"(\s+)")


def whole_words(text: str) -> Markup:
    """``text`` escaped, each run of non-spaces in a ``<span class="w">`` the page never breaks.

    Browsers also wrap after hyphens and slashes, which splits ``invoke-endpoint`` or an S3 URI
    in a command; the page's CSS keeps these spans whole, so a command wraps only at its spaces
    and a token wider than its box scrolls inside the box.
    """
    word = Markup('<span class="w">{}</span>')
    return Markup("").join(word.format(part) if part.strip() else part
                           for part in _SPACES.split(text) if part)


def render_preview(listing: Listing, samples: Samples) -> str:
    """The preview page's HTML."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["whole_words"] = whole_words
    template = env.get_template("preview.html.j2")
    return template.render(
        listing=listing, p=listing.product, d=listing.delivery, pr=listing.pricing,
        perf=listing.performance, samples=samples, price_rows=price_rows(listing),
        long_description=long_description(listing),
    )
