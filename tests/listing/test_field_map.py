"""The listing.yaml <-> Catalog API field map (``smkit.listing.fields``) holds both directions.

Every value a built request carries must map back to the listing.yaml field it came from, so a
field added to a builder without its way back (or the reverse) fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from listing_kit import valid_data
from smkit.listing.changesets import Samples, build_request
from smkit.listing.fields import FIELDS, OPTION, SECTIONS, fill, lookup, value_at
from smkit.listing.model import Listing
from smkit.listing.validate import yaml_field

SAMPLES = Samples("5.1,3.5,1.4,0.2", "0")

#: Values no listing.yaml field holds: what smkit chooses, or what the catalog already holds.
#: (change type, regex of the place in the details, why.)
NOT_FROM_THE_LISTING: list[tuple[str, str, str]] = [
    ("CreateOffer", r"ProductId$", "the product the offer is for, from the change set"),
    ("UpdatePricingTerms", r"PricingModel$", "always Usage"),
    ("UpdatePricingTerms", r"Terms\[\d+\]\.Type$", "the usage and free-trial term kinds"),
    ("UpdateLegalTerms", r"Terms\[0\]\.Type$", "always LegalTerm"),
    ("UpdateLegalTerms", r"Terms\[0\]\.Documents\[0\]\.Type$", "StandardEula or CustomEula"),
    ("UpdateLegalTerms", r"Terms\[0\]\.Documents\[0\]\.Version$", "the standard contract's"),
    ("UpdateSupportTerms", r"Terms\[0\]\.Type$", "always SupportTerm"),
    ("UpdateDeliveryOptions", r"DeliveryOptions\[0\]\.Id$", "the existing option's, from AWS"),
]


def _full() -> dict[str, Any]:
    """A listing that sets every optional field the change sets can carry."""
    data = valid_data()
    p = data["product"]
    p["sku"] = "IRIS-1"
    p["video_urls"] = ["https://example.com/video.mp4"]
    p["additional_resources"].append({"text": "Paper", "url": "https://example.com/paper"})
    data["eula"] = {"type": "custom", "url": "https://example.com/eula.txt"}
    inp = data["delivery"]["input"]
    inp["limitations"] = "Four columns only."
    inp["parameters"] = [{"name": "threshold", "description": "Cut-off", "constraints": "0-1",
                          "required": True}, {"name": "top", "description": "How many"}]
    inp["custom_attributes"] = [{"name": "trace", "description": "Trace id"}]
    data["delivery"]["output"]["parameters"] = [
        {"name": "species", "description": "The species", "always_returned": False}]
    data["visibility"], data["buyer_accounts"] = "Private", ["111122223333", "444455556666"]
    return data


def _per_inference() -> dict[str, Any]:
    data = valid_data()
    data["pricing"] = {"model": "per-inference", "per_inference": "0.0001",
                       "batch": {"ml.m5.large": "0.40"}}
    data["delivery"]["metering"] = "per-inference"
    return data


def _free() -> dict[str, Any]:
    data = valid_data()
    data["pricing"] = {"model": "free"}
    return data


def _requests() -> Iterator[tuple[Listing, dict[str, Any]]]:
    for data in (valid_data(), _full(), _per_inference(), _free()):
        listing = Listing.model_validate(data)
        yield listing, build_request(listing, SAMPLES, release=True)
        yield listing, build_request(listing, SAMPLES, product_id="prod-1", offer_id="offer-1",
                                     delivery_option_id="option-1")


def _leaves(doc: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """(place, value) of every scalar and empty container, written as the rules write it."""
    if isinstance(doc, dict) and doc:
        for k, v in doc.items():
            yield from _leaves(v, f"{where}.{k}" if where else k)
    elif isinstance(doc, list) and doc:
        for i, v in enumerate(doc):
            yield from _leaves(v, f"{where}[{i}]")
    else:
        yield where, doc


def unmapped(listing: Listing, request: dict[str, Any]) -> list[str]:
    """Every place of the request that neither maps back to a listing.yaml field holding its
    value nor is in NOT_FROM_THE_LISTING."""
    out = []
    for change in request["ChangeSet"]:
        ct = change["ChangeType"]
        for where, value in _leaves(change["DetailsDocument"]):
            if not where:  # empty details (CreateProduct, the releases) carry nothing
                continue
            if any(c == ct and re.search(rx, where) for c, rx, _ in NOT_FROM_THE_LISTING):
                continue
            found = lookup(ct, where)
            if found is None:
                out.append(f"{ct} {where}")
                continue
            field, path = found
            # A copied value must be the one at the listing.yaml path it maps back to.
            if not field.computed and value_at(listing, path) != value:
                out.append(f"{ct} {where} = {value!r} but {path} = {value_at(listing, path)!r}")
    return out


def test_every_value_a_built_request_carries_maps_back_to_its_listing_field() -> None:
    for listing, request in _requests():
        assert unmapped(listing, request) == []


def test_a_value_added_to_a_change_without_its_way_back_is_caught() -> None:
    listing, request = next(_requests())
    info = next(c for c in request["ChangeSet"] if c["ChangeType"] == "UpdateInformation")
    info["DetailsDocument"]["AssociatedProducts"] = ["prod-2"]
    delivery = next(c for c in request["ChangeSet"] if c["ChangeType"] == "AddDeliveryOptions")
    option = delivery["DetailsDocument"]["DeliveryOptions"][0]["Details"]
    option["SageMakerModelPackageDeliveryOptionDetails"]["UsageInstructions"] = "changed"
    assert unmapped(listing, request) == [
        "UpdateInformation AssociatedProducts[0]",
        f"AddDeliveryOptions {OPTION}UsageInstructions = 'changed' but "
        "delivery.usage_instructions = 'Deploy, then invoke with text/csv.'",
    ]


def test_every_listing_path_the_map_names_is_a_listing_yaml_field() -> None:
    listing = Listing.model_validate(_full())
    for f in FIELDS:
        value_at(listing, f.yaml.replace("[]", "[0]"))
    for section in SECTIONS.values():
        value_at(listing, section)


@pytest.mark.parametrize(("change", "where", "field"), [
    ("UpdateInformation", "Highlights[1]", "product.highlights[1]"),
    ("UpdateInformation", "Highlights", "product.highlights"),
    ("UpdateInformation", "AdditionalResources[0].Url", "product.additional_resources[0].url"),
    ("UpdateInformation", "AdditionalResources[2]", "product.additional_resources"),
    ("UpdateInformation", "LongDescription", "product.long_description"),
    ("UpdateInformation", "AssociatedProducts", "(change set) UpdateInformation"),
    ("AddDeliveryOptions", OPTION + "InputProperties.Parameters[0].Constraints",
     "delivery.input.parameters[0].constraints"),
    ("AddDeliveryOptions", OPTION + "OutputProperties.Parameters[1].AlwaysReturned",
     "delivery.output.parameters[1].always_returned"),
    ("AddDeliveryOptions", OPTION + "InputProperties.SampleInput.RealtimeInferenceText",
     "delivery.input.sample_file"),
    ("AddDeliveryOptions", OPTION + "InputProperties", "delivery"),
    ("UpdateDeliveryOptions", OPTION + "UsageInstructions", "delivery.usage_instructions"),
    ("UpdateTargeting", "PositiveTargeting.BuyerAccounts[1]", "buyer_accounts[1]"),
    ("UpdatePricingTerms", "Terms[1].Duration", "pricing.free_trial_days"),
    ("UpdatePricingTerms", "Terms[0].RateCards[0].RateCard[2].Price", "pricing"),
    ("UpdateLegalTerms", "Terms[0].Documents[0].Url", "eula.url"),
    ("UpdateSupportTerms", "Terms[0].RefundPolicy", "support.refund_policy"),
    ("UpdateVisibility", "TargetVisibility", "visibility"),
])
def test_a_violation_is_reported_under_the_field_the_seller_wrote(change: str, where: str,
                                                                  field: str) -> None:
    assert yaml_field(change, where) == field


def test_a_builder_out_of_step_with_the_map_is_refused() -> None:
    listing = Listing.model_validate(valid_data())
    with pytest.raises(ValueError, match="LongDescription"):
        fill(listing, "UpdateInformation")
