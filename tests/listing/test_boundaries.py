"""Boundary cases: a value exactly at each published limit passes, the next one is refused.

Issue 24, "Must be true" 3. Every limit below is typed by hand from AWS's published documents;
nothing here reads the rule table:

  DOC     shared/docs/marketplace.md: the ``UpdateInformation`` limits table and the Pricing
          section ("A free trial lasts 5 to 120 days").
  SHAPES  where that document is silent: AWS's change-type shapes in
          awslabs/aws-marketplace-catalog-api-shapes-for-python (commits 029613285eda,
          c9e09835aa19, 22583be0233c):
          MachineLearningProduct@1.0 (add_version, input_properties, sample, positive_targeting,
          the model package delivery option details) and the Offer@1.0 appendix
          (rate_card_item, support_term).

Each pair goes to both tools: ``listing check``'s checker (``smkit.listing.validate.
check_request``, in this process) and the Catalog emulator (a subprocess, over boto3's
marketplace-catalog client). The at-limit side must pass both tools whole; the past-limit side
must be refused by both with that rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from listing_kit import (
    LEGAL_TERMS,
    SUPPORT_TERMS,
    Server,
    catalog_change,
    create_package,
    delivery_details,
    wait_change_set,
)
from smkit.emulators.catalog_rules import sagemaker_lookup
from smkit.listing.rules import Context
from smkit.listing.validate import check_request

PRODUCT, OFFER = "MachineLearningProduct@1.0", "Offer@1.0"
ACCOUNT = "123456789012"
PKG = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/bounds-iris"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/MarketplaceAccess"
P_REF, O_REF = "$CreateProduct.Entity.Identifier", "$CreateOffer.Entity.Identifier"
UI = "Product.UpdateInformation."
PT = "Offer.UpdatePricingTerms."
URL = "https://example.com/r"

INFO: dict[str, Any] = {
    "ProductTitle": "Iris species classifier",
    "ShortDescription": "Tells the iris species from four measurements.",
    "LongDescription": "A decision tree trained on the iris data.",
    "Sku": "IRIS-1",
    "Highlights": ["Fast"],
    "Categories": ["Machine Learning"],
    "SearchKeywords": ["iris"],
    "LogoUrl": "https://example.com/logo.png",
    "AdditionalResources": [{"Text": "Docs", "Url": "https://example.com/docs"}],
    "SupportDescription": "Email support@example.com.",
}
OPTION: dict[str, Any] = {
    "SageMakerModelPackageArn": PKG,
    "AccessRoleArn": ROLE,
    "UsageInstructions": "Deploy, then invoke with text/csv.",
    "SampleNotebookUrl": "https://example.com/notebook.ipynb",
    "RepositoryUrl": "https://github.com/example/iris",
    "InputProperties": {"Description": "Four measurements in cm.",
                        "Limitations": "Numbers only.",
                        "SampleInput": {"RealtimeInferenceText": "5.1,3.5,1.4,0.2",
                                        "BatchTransformText": "5.1,3.5,1.4,0.2"}},
    "OutputProperties": {"Description": "The species.",
                         "SampleOutput": {"RealtimeInferenceText": "0",
                                          "BatchTransformText": "0"}},
    "RecommendedInstanceTypes": {"RealtimeInference": "ml.m5.large",
                                 "BatchTransform": "ml.m5.large"},
}
DELIVERY = delivery_details(OPTION)
PRICING: dict[str, Any] = {"PricingModel": "Usage", "Terms": [
    {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{"RateCard": [
        {"DimensionKey": "ml.m5.large.m.i.r", "Price": "0.50"},
        {"DimensionKey": "ml.m5.large.m.i.b", "Price": "0.40"}]}]},
    {"Type": "FreeTrialPricingTerm", "Duration": "P14D",
     "Grants": [{"DimensionKey": "ml.m5.large.m.i.r"}]}]}


def base() -> list[dict[str, Any]]:
    """A new product and offer, released (not made Public: no review to wait for)."""
    return [
        catalog_change(PRODUCT, "CreateProduct", {}, "CreateProduct", P_REF),
        catalog_change(PRODUCT, "UpdateInformation", INFO, None, P_REF),
        catalog_change(PRODUCT, "AddDeliveryOptions", DELIVERY, None, P_REF),
        catalog_change(OFFER, "CreateOffer", {"ProductId": P_REF}, "CreateOffer", O_REF),
        catalog_change(OFFER, "UpdatePricingTerms", PRICING, None, O_REF),
        catalog_change(OFFER, "UpdateLegalTerms", LEGAL_TERMS, None, O_REF),
        catalog_change(OFFER, "UpdateSupportTerms", SUPPORT_TERMS, None, O_REF),
        catalog_change(PRODUCT, "ReleaseProduct", {}, None, P_REF),
        catalog_change(OFFER, "ReleaseOffer", {}, None, O_REF),
    ]


Mutate = Callable[[list[dict[str, Any]]], None]


def info(field: str, value: Any) -> Mutate:
    """Set a field of the product's UpdateInformation."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        next(c for c in changes if c["ChangeType"] == "UpdateInformation"
             and c["Entity"]["Type"] == PRODUCT)["DetailsDocument"][field] = value
    return mutate


def option(path: str, value: Any) -> Mutate:
    """Set a field of AddDeliveryOptions (``Version.X`` or, else, the model package option)."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        node = next(c for c in changes if c["ChangeType"] == "AddDeliveryOptions")
        node = node["DetailsDocument"]
        if not path.startswith("Version."):
            node = node["DeliveryOptions"][0]["Details"][
                "SageMakerModelPackageDeliveryOptionDetails"]
        *parents, last = path.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    return mutate


def buyers(n: int) -> Mutate:
    """Target the product at n buyer accounts (before it is released)."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        at = next(i for i, c in enumerate(changes) if c["ChangeType"] == "ReleaseProduct")
        accounts = [f"{111100000000 + i:012d}" for i in range(n)]
        changes.insert(at, catalog_change(PRODUCT, "UpdateTargeting",
                                   {"PositiveTargeting": {"BuyerAccounts": accounts}}, None,
                                   P_REF))
    return mutate


def price(value: str) -> Mutate:
    """Set the first rate card item's Price."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        pricing = next(c for c in changes if c["ChangeType"] == "UpdatePricingTerms")
        pricing["DetailsDocument"]["Terms"][0]["RateCards"][0]["RateCard"][0]["Price"] = value
    return mutate


def refund(text: str) -> Mutate:
    """Set the support term's RefundPolicy."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        support = next(c for c in changes if c["ChangeType"] == "UpdateSupportTerms")
        support["DetailsDocument"]["Terms"][0]["RefundPolicy"] = text
    return mutate


def trial(duration: str) -> Mutate:
    """Set the free trial's Duration."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        pricing = next(c for c in changes if c["ChangeType"] == "UpdatePricingTerms")
        pricing["DetailsDocument"]["Terms"][1]["Duration"] = duration
    return mutate


@dataclass(frozen=True)
class Bound:
    """One published limit: the rule that holds it, a value at it and one just past it."""

    rule: str
    doc: str  # the limit in its document's words
    at: Mutate
    past: Mutate
    end: str = ""  # which limit, where one rule holds two (a range's ends)

    @property
    def name(self) -> str:
        """The rule, and the limit's end if the rule has two."""
        return f"{self.rule}.{self.end}" if self.end else self.rule


def _resources(n: int) -> list[dict[str, str]]:
    return [{"Text": f"Resource {i}", "Url": f"{URL}{i}"} for i in range(n)]


CATEGORIES = ["Machine Learning", "Computer Vision", "Natural Language Processing",
              "Speech Recognition"]

BOUNDS: list[Bound] = [
    Bound(f"{UI}ProductTitle.max_length", "ProductTitle ≤ 72 characters",
          info("ProductTitle", "T" * 72), info("ProductTitle", "T" * 73)),
    Bound(f"{UI}ShortDescription.max_length", "ShortDescription ≤ 1000",
          info("ShortDescription", "s" * 1000), info("ShortDescription", "s" * 1001)),
    Bound(f"{UI}LongDescription.max_length", "LongDescription ≤ 5000",
          info("LongDescription", "l" * 5000), info("LongDescription", "l" * 5001)),
    Bound(f"{UI}Highlights.min_items", "Highlights 1–3 items",
          info("Highlights", ["one"]), info("Highlights", [])),
    Bound(f"{UI}Highlights.max_items", "Highlights 1–3 items",
          info("Highlights", ["a", "b", "c"]), info("Highlights", ["a", "b", "c", "d"])),
    Bound(f"{UI}Highlights[].max_length", "Highlights each ≤ 500",
          info("Highlights", ["h" * 500]), info("Highlights", ["h" * 501])),
    Bound(f"{UI}Categories.min_items", "Categories 1–3",
          info("Categories", CATEGORIES[:1]), info("Categories", [])),
    Bound(f"{UI}Categories.max_items", "Categories 1–3",
          info("Categories", CATEGORIES[:3]), info("Categories", CATEGORIES[:4])),
    Bound(f"{UI}SearchKeywords.max_items", "SearchKeywords ≤ 15 items",
          info("SearchKeywords", [f"k{i}" for i in range(15)]),
          info("SearchKeywords", [f"k{i}" for i in range(16)])),
    Bound(f"{UI}SearchKeywords[].max_length", "SearchKeywords each ≤ 50",
          info("SearchKeywords", ["k" * 50]), info("SearchKeywords", ["k" * 51])),
    Bound(f"{UI}SupportDescription.max_length", "SupportDescription ≤ 2000",
          info("SupportDescription", "d" * 2000), info("SupportDescription", "d" * 2001)),
    Bound(f"{UI}LogoUrl.url", "LogoUrl must be https",
          info("LogoUrl", "https://example.com/logo.png"),
          info("LogoUrl", "http://example.com/logo.png")),
    Bound(f"{UI}VideoUrls.max_items", "VideoUrls ≤ 1",
          info("VideoUrls", ["https://example.com/v1"]),
          info("VideoUrls", ["https://example.com/v1", "https://example.com/v2"])),
    Bound(f"{UI}AdditionalResources.max_items", "AdditionalResources ≤ 3",
          info("AdditionalResources", _resources(3)), info("AdditionalResources", _resources(4))),
]
AD = "Product.AddDeliveryOptions."


def _url(length: int) -> str:
    """An https URL of exactly ``length`` characters."""
    head = "https://example.com/"
    return head + "u" * (length - len(head))


# SHAPES: where marketplace.md is silent.
BOUNDS += [
    Bound(f"{AD}Version.VersionTitle.max_length", "AddVersion.VersionTitle max_length=64",
          option("Version.VersionTitle", "v" * 64), option("Version.VersionTitle", "v" * 65)),
    Bound(f"{AD}Version.ReleaseNotes.max_length", "AddVersion.ReleaseNotes max_length=30000",
          option("Version.ReleaseNotes", "n" * 30000),
          option("Version.ReleaseNotes", "n" * 30001)),
    Bound("Shape.DeliveryOption.UsageInstructions.max_length",
          "UsageInstructions max_length=10000",
          option("UsageInstructions", "u" * 10000), option("UsageInstructions", "u" * 10001)),
    Bound("Shape.DeliveryOption.SampleNotebookUrl.max_length",
          "SampleNotebookUrl max_length=2000",
          option("SampleNotebookUrl", _url(2000)), option("SampleNotebookUrl", _url(2001))),
    Bound("Shape.DeliveryOption.RepositoryUrl.max_length", "RepositoryUrl max_length=2000",
          option("RepositoryUrl", _url(2000)), option("RepositoryUrl", _url(2001))),
    Bound("Shape.DeliveryOption.InputProperties.Description.max_length",
          "InputProperties.Description max_length=10000",
          option("InputProperties.Description", "i" * 10000),
          option("InputProperties.Description", "i" * 10001)),
    Bound("Shape.DeliveryOption.InputProperties.Limitations.max_length",
          "InputProperties.Limitations max_length=1000",
          option("InputProperties.Limitations", "m" * 1000),
          option("InputProperties.Limitations", "m" * 1001)),
    Bound("Shape.Sample.RealtimeInferenceText.max_length",
          "Sample.RealtimeInferenceText max_length=10000",
          option("InputProperties.SampleInput.RealtimeInferenceText", "5" * 10000),
          option("InputProperties.SampleInput.RealtimeInferenceText", "5" * 10001)),
    Bound("Shape.Sample.RealtimeInferenceText.min_length",
          "Sample.RealtimeInferenceText min_length=1",
          option("InputProperties.SampleInput.RealtimeInferenceText", "5"),
          option("InputProperties.SampleInput.RealtimeInferenceText", "")),
    Bound("Product.UpdateTargeting.PositiveTargeting.BuyerAccounts.max_items",
          "PositiveTargeting.BuyerAccounts max_length=100", buyers(100), buyers(101)),
]

TRIAL_RULE = f"{PT}Terms[].Duration.trial_days"
PRICE_RULE = f"{PT}Terms[].RateCards[].RateCard[].Price.pattern"
REFUND = "Offer.UpdateSupportTerms.Terms[].RefundPolicy."
BOUNDS += [
    # DOC: "A free trial lasts 5 to 120 days": both ends.
    Bound(TRIAL_RULE, "A free trial lasts 5 to 120 days", trial("P5D"), trial("P4D"), "min"),
    Bound(TRIAL_RULE, "A free trial lasts 5 to 120 days", trial("P120D"), trial("P121D"),
          "max"),
    # SHAPES, Offer@1.0 appendix (rate_card_item.py, support_term.py).
    Bound(PRICE_RULE, "Price ^((100000000(\\.0{0,8})?)|(\\d{1,8}(\\.\\d{0,8})?))$",
          price("100000000"), price("100000001"), "max"),
    Bound(PRICE_RULE, "Price ^((100000000(\\.0{0,8})?)|(\\d{1,8}(\\.\\d{0,8})?))$",
          price("0.12345678"), price("0.123456789"), "decimals"),
    Bound(f"{REFUND}max_length", "SupportTerm.RefundPolicy max_length=500",
          refund("r" * 500), refund("r" * 501)),
    Bound(f"{REFUND}min_length", "SupportTerm.RefundPolicy min_length=1",
          refund("r"), refund("")),
    # The pattern's last allowed symbol (U+2122, TM) against a currency sign outside it (euro).
    Bound(f"{REFUND}charset", "RefundPolicy ^[\\u0000-\\u007E\\u00A9\\u00AE\\u2122"
          "\\u00A2-\\u00A5]+$", refund("No refunds\u2122 \u00a5"), refund("No refunds \u20ac")),
]

SIDES = ("at-limit", "past-limit")
CASES: list[tuple[str, str, str, Mutate]] = []  # id, rule, side, mutation
for b in BOUNDS:
    CASES += [(f"{b.name}-at-limit", b.rule, "at-limit", b.at),
              (f"{b.name}-past-limit", b.rule, "past-limit", b.past)]


def _body(mutate: Mutate) -> dict[str, Any]:
    changes = base()
    mutate(changes)
    return {"Catalog": "AWSMarketplace", "ChangeSet": changes, "Intent": "VALIDATE"}


@pytest.fixture(scope="module")
def ctx(moto: Server) -> Context:
    """The model package in moto, and ``listing check``'s context reading it."""
    create_package(moto.url, "bounds-iris", realtime=["ml.m5.large"], batch=["ml.m5.large"])
    return Context(seller_account=ACCOUNT, region="us-east-1",
                   lookup=sagemaker_lookup(moto.url, "us-east-1"))


@pytest.fixture(scope="module")
def emulated(ctx: Context, catalog: Server) -> dict[str, list[str]]:
    """Every case sent to the emulator at once; the error messages each change set got."""
    client = boto3.client("marketplace-catalog", endpoint_url=catalog.url,
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    started = {cid: client.start_change_set(**_body(m))["ChangeSetId"]
               for cid, _, _, m in CASES}
    out: dict[str, list[str]] = {}
    for cid, cs_id in started.items():
        final = wait_change_set(client, cs_id)
        out[cid] = [f"{e['ErrorCode']}: {e['ErrorMessage']}"
                    for change in final["ChangeSet"] for e in change["ErrorDetailList"]]
        assert (final["Status"] == "SUCCEEDED") == (not out[cid]), final
    return out


@pytest.mark.parametrize(("case_id", "rule", "side", "mutate"), CASES,
                         ids=[c[0] for c in CASES])
def test_the_limit_is_accepted_and_the_next_value_refused_by_both_tools(
        case_id: str, rule: str, side: str, mutate: Mutate, ctx: Context,
        emulated: dict[str, list[str]]) -> None:
    checked = [v.message for _, v in check_request(_body(mutate), ctx, entities=None)]
    for tool, messages in (("listing check", checked), ("emulator", emulated[case_id])):
        if side == "at-limit":
            assert messages == [], f"{tool} refused a value at the published limit: {messages}"
        else:
            assert any(f"[rule {rule}]" in m for m in messages), \
                f"{tool} did not refuse with {rule}: {messages}"


def test_the_base_listing_passes_both_tools(ctx: Context, catalog: Server) -> None:
    """The change set every case starts from is valid, so a refusal is the case's value."""
    assert [v.message for _, v in check_request(_body(lambda c: None), ctx)] == []
    client = boto3.client("marketplace-catalog", endpoint_url=catalog.url,
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    started = client.start_change_set(**_body(lambda c: None))
    assert wait_change_set(client, started["ChangeSetId"])["Status"] == "SUCCEEDED"


def test_every_pair_reaches_a_distinct_rule() -> None:
    pairs = [b.name for b in BOUNDS]
    assert len(pairs) == len(set(pairs))
    assert {side for _, _, side, _ in CASES} == set(SIDES)
