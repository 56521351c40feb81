"""The buyer's price comes from the listing as the listing's own model reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from smkit.buyer.billing import hourly_price_from_listing
from smkit.core.errors import UserError


def listing(tmp_path: Path, pricing: str) -> Path:
    path = tmp_path / "listing.yaml"
    path.write_text("product:\n  title: T\npricing:\n" + pricing)
    return path


def test_a_price_written_as_a_yaml_number_or_in_e_notation(tmp_path: Path) -> None:
    path = listing(tmp_path, "  model: hourly\n  batch:\n    ml.m5.large: 0.5\n"
                             "    ml.c5.large: 2e-1\n")
    assert hourly_price_from_listing(path, "ml.m5.large") == 0.5
    assert hourly_price_from_listing(path, "ml.c5.large") == 0.2


def test_a_dollar_sign_is_refused_as_listing_check_refuses_it(tmp_path: Path) -> None:
    path = listing(tmp_path, "  model: hourly\n  batch:\n    ml.m5.large: $0.20\n")
    with pytest.raises(UserError) as info:
        hourly_price_from_listing(path, "ml.m5.large")
    assert str(info.value).startswith(
        f"--listing {path}: pricing.batch.ml.m5.large must be a decimal number of USD, got "
        "'$0.20'; fix its pricing section")


def test_free_pricing_costs_nothing_and_no_pricing_states_no_price(tmp_path: Path) -> None:
    # Free is a price: the job's summary says $0.00, as buyer plan does.
    assert hourly_price_from_listing(listing(tmp_path, "  model: free\n"), "ml.m5.large") == 0.0
    path = tmp_path / "bare.yaml"
    path.write_text("product:\n  title: T\n")
    assert hourly_price_from_listing(path, "ml.m5.large") is None


def test_a_broken_listing_says_where_in_the_one_format(tmp_path: Path) -> None:
    path = listing(tmp_path, "  model: hourly\n  batch: [ml.m5.large\n")
    with pytest.raises(UserError, match=r"^--listing .* is not valid YAML at line \d+, column"):
        hourly_price_from_listing(path, "ml.m5.large")
