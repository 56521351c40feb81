"""Pure builders: a validated ``Listing`` -> the Catalog API ``StartChangeSet`` request.

Nothing here talks to AWS. A new product goes out as one change set: CreateProduct,
UpdateInformation, AddDeliveryOptions (UpdateDeliveryOptions when the product already has this
version), (UpdateTargeting for a Private listing), CreateOffer,
UpdatePricingTerms, UpdateLegalTerms, UpdateSupportTerms, and ReleaseProduct / ReleaseOffer /
UpdateVisibility when asked. Later changes point at the created entities with
``$<ChangeName>.Entity.Identifier``; once the product exists, its IDs are used instead.

Which listing.yaml field goes where is declared once, in ``smkit.listing.fields.FIELDS``: the
builders fill the details from it and pass only the values they compute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smkit.core.errors import UserError
from smkit.listing import limits
from smkit.listing.fields import OPTION, fill
from smkit.listing.model import Listing, long_description


@dataclass(frozen=True)
class Samples:
    """The sample request and the model's answer to it, as the listing shows them."""

    input_text: str
    output_text: str


def read_samples(listing: Listing, base_dir: Path) -> Samples:
    """Read the sample files ``listing init`` produced (paths relative to listing.yaml)."""
    texts = []
    for label, rel in (("delivery.input.sample_file", listing.delivery.input.sample_file),
                       ("delivery.output.sample_file", listing.delivery.output.sample_file)):
        path = base_dir / rel
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(
                f"{label}: cannot read {path} ({e}); run `smkit listing init` to produce it"
            ) from None
    return Samples(texts[0], texts[1])


def _ref(change_name: str) -> str:
    return f"${change_name}.Entity.Identifier"


def information_details(listing: Listing) -> dict[str, Any]:
    """``UpdateInformation`` details of the product."""
    return fill(listing, "UpdateInformation", {"LongDescription": long_description(listing)})


def _described(text: str, content_types: list[str]) -> str:
    """An input or output Description: the seller's text, then the content types."""
    return f"{text}\n\nContent types: {', '.join(content_types)}"


def _sample(text: str) -> dict[str, str]:
    """A SampleInput or SampleOutput: the same text for real-time and batch."""
    return {"RealtimeInferenceText": text, "BatchTransformText": text}


def delivery_details(listing: Listing, samples: Samples) -> dict[str, Any]:
    """``AddDeliveryOptions`` details: a new version pointing at the model package."""
    inp, out = listing.delivery.input, listing.delivery.output
    return fill(listing, "AddDeliveryOptions", {
        OPTION + "InputProperties.Description": _described(inp.description, inp.content_types),
        OPTION + "InputProperties.SampleInput": _sample(samples.input_text),
        OPTION + "OutputProperties.Description": _described(out.description, out.content_types),
        OPTION + "OutputProperties.SampleOutput": _sample(samples.output_text),
    })


def update_delivery_details(listing: Listing, samples: Samples,
                            option_id: str) -> dict[str, Any]:
    """``UpdateDeliveryOptions`` details: the same version, changed in place.

    The model package and the access role of a version cannot change (AWS: "You cannot update
    the ARN for a version"); a new package needs a new ``version_title``.
    """
    added = delivery_details(listing, samples)
    details = added["DeliveryOptions"][0]["Details"]
    option = dict(details["SageMakerModelPackageDeliveryOptionDetails"])
    option.pop("SageMakerModelPackageArn")
    option.pop("AccessRoleArn")
    return {"Version": added["Version"],
            "DeliveryOptions": [{"Id": option_id, "Details": {
                "SageMakerModelPackageDeliveryOptionDetails": option}}]}


def rate_card(listing: Listing) -> list[dict[str, str]]:
    """Every priced dimension (free: every supported instance type at 0.00).

    Only what the listing prices goes out: a supported instance type without a price is left
    for the rule set to report, not filled in.
    """
    p, sup = listing.pricing, listing.delivery.supported_instance_types
    if p.model == "free":
        return ([{"DimensionKey": limits.realtime_key(i), "Price": "0.00"} for i in sup.realtime]
                + [{"DimensionKey": limits.batch_key(i), "Price": "0.00"} for i in sup.batch])
    card: list[dict[str, str]] = []
    if p.model == "per-inference":
        assert p.per_inference is not None  # guaranteed by Pricing's validator
        card.append({"DimensionKey": limits.PER_INFERENCE_KEY, "Price": p.per_inference})
    else:
        card += [{"DimensionKey": limits.realtime_key(i), "Price": price}
                 for i, price in p.realtime.items()]
    card += [{"DimensionKey": limits.batch_key(i), "Price": price}
             for i, price in p.batch.items()]
    return card


def pricing_details(listing: Listing) -> dict[str, Any]:
    """``UpdatePricingTerms`` details of the offer (usage-based; optional hourly free trial).

    Built here, not filled: ``fields.FIELDS`` holds only the way back of its values.
    """
    card = rate_card(listing)
    terms: list[dict[str, Any]] = [{
        "Type": "UsageBasedPricingTerm",
        "CurrencyCode": listing.pricing.currency,
        "RateCards": [{"RateCard": card}],
    }]
    if listing.pricing.free_trial_days is not None:
        terms.append({
            "Type": "FreeTrialPricingTerm",
            "Duration": f"P{listing.pricing.free_trial_days}D",
            "Grants": [{"DimensionKey": c["DimensionKey"]} for c in card],
        })
    return {"PricingModel": "Usage", "Terms": terms}


def legal_details(listing: Listing) -> dict[str, Any]:
    """``UpdateLegalTerms``: the standard contract or a custom EULA (built here; the way back
    of its Url is in ``fields.FIELDS``)."""
    if listing.eula.type == "custom":
        doc = {"Type": "CustomEula", "Url": listing.eula.url}
    else:
        doc = {"Type": "StandardEula", "Version": "2022-07-14"}
    return {"Terms": [{"Type": "LegalTerm", "Documents": [doc]}]}


def support_details(listing: Listing) -> dict[str, Any]:
    """``UpdateSupportTerms``: the refund policy (built here; its way back is in
    ``fields.FIELDS``)."""
    return {"Terms": [{"Type": "SupportTerm", "RefundPolicy": listing.support.refund_policy}]}


def _change(change_type: str, entity_type: str, identifier: str | None,
            details: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    entity: dict[str, str] = {"Type": entity_type}
    if identifier is not None:
        entity["Identifier"] = identifier
    change: dict[str, Any] = {"ChangeType": change_type, "Entity": entity,
                              "DetailsDocument": details}
    if name:
        change["ChangeName"] = name
    return change


def build_changes(listing: Listing, samples: Samples, *, release: bool = False,
                  product_id: str | None = None, offer_id: str | None = None,
                  delivery_option_id: str | None = None) -> list[dict[str, Any]]:
    """The ``ChangeSet`` list of a StartChangeSet request for this listing.

    ``delivery_option_id`` is the Id of the product's delivery option whose version has this
    listing's ``version_title``: that version is updated (UpdateDeliveryOptions) instead of
    added again.
    """
    product_id = product_id or listing.product_id
    offer_id = offer_id or listing.offer_id
    changes: list[dict[str, Any]] = []
    if product_id is None:
        changes.append(_change("CreateProduct", limits.PRODUCT_TYPE, None, {}, "CreateProduct"))
        product = _ref("CreateProduct")
    else:
        product = product_id
    changes.append(_change("UpdateInformation", limits.PRODUCT_TYPE, product,
                           information_details(listing)))
    if delivery_option_id is not None and product_id is not None:
        changes.append(_change("UpdateDeliveryOptions", limits.PRODUCT_TYPE, product,
                               update_delivery_details(listing, samples, delivery_option_id)))
    else:
        changes.append(_change("AddDeliveryOptions", limits.PRODUCT_TYPE, product,
                               delivery_details(listing, samples)))
    if listing.visibility == "Private":
        changes.append(_change("UpdateTargeting", limits.PRODUCT_TYPE, product,
                               fill(listing, "UpdateTargeting")))
    if offer_id is None:
        changes.append(_change("CreateOffer", limits.OFFER_TYPE, None,
                               {"ProductId": product}, "CreateOffer"))
        offer = _ref("CreateOffer")
    else:
        offer = offer_id
    changes.append(_change("UpdatePricingTerms", limits.OFFER_TYPE, offer,
                           pricing_details(listing)))
    changes.append(_change("UpdateLegalTerms", limits.OFFER_TYPE, offer, legal_details(listing)))
    changes.append(_change("UpdateSupportTerms", limits.OFFER_TYPE, offer,
                           support_details(listing)))
    if release:
        changes.append(_change("ReleaseProduct", limits.PRODUCT_TYPE, product, {}))
        changes.append(_change("ReleaseOffer", limits.OFFER_TYPE, offer, {}))
        if listing.visibility == "Public":
            changes.append(_change("UpdateVisibility", limits.PRODUCT_TYPE, product,
                                   {"TargetVisibility": "Public"}))
    return changes


def change_set_name(listing: Listing) -> str:
    """A ChangeSetName the API accepts (letters, digits, spaces and ``_+=.:@-``, <= 100)."""
    return re.sub(r"[^\w\s+=.:@-]", "-", f"smkit {listing.delivery.version_title}")[:100]


def build_request(listing: Listing, samples: Samples, *, release: bool = False,
                  product_id: str | None = None, offer_id: str | None = None,
                  delivery_option_id: str | None = None) -> dict[str, Any]:
    """A whole StartChangeSet request, without Intent and ClientRequestToken."""
    return {
        "Catalog": limits.CATALOG,
        "ChangeSetName": change_set_name(listing),
        "ChangeSet": build_changes(listing, samples, release=release, product_id=product_id,
                                   offer_id=offer_id, delivery_option_id=delivery_option_id),
    }
