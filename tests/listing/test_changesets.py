"""Change sets built from a listing, compared with expected dicts written from marketplace.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from listing_kit import LEGAL_TERMS, PACKAGE_ARN, ROLE_ARN, SUPPORT_TERMS, valid_data, write_listing
from smkit.cli import main
from smkit.listing.changesets import Samples, build_request
from smkit.listing.validate import parse_listing

SAMPLES = Samples("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3", "0\n2")
PRODUCT = "MachineLearningProduct@1.0"
OFFER = "Offer@1.0"

LONG = (
    "A decision tree trained on the classic iris data.\n\n"
    "Use it to sort flowers in the field.\n\n"
    "Model facts\n"
    "- accuracy: 0.96 on 30 held-out rows (the seller, 2026-11-30)\n"
    "- Latency: 3.2 ms median and 5.1 ms p95 for one record per request; throughput: 400 "
    "records/s with concurrent requests; measured on an ml.m5.large endpoint in us-east-1 "
    "(the seller, 2026-11-30)\n"
    "- Training data: UCI iris (150 rows)\n"
    "- Limitations: Only three species."
)

INFORMATION = {
    "ProductTitle": "Iris species classifier",
    "ShortDescription": "Tells the iris species from four flower measurements.",
    "LongDescription": LONG,
    "Highlights": ["Answers in milliseconds", "Explains nothing, predicts well"],
    "Categories": ["Machine Learning"],
    "SearchKeywords": ["iris", "classification"],
    "LogoUrl": "https://example.com/logo.png",
    "VideoUrls": [],
    "AdditionalResources": [{"Text": "Docs", "Url": "https://example.com/docs"}],
    "SupportDescription": "Email support@example.com.",
}

DELIVERY = {
    "Version": {"VersionTitle": "1.0", "ReleaseNotes": "First release."},
    "DeliveryOptions": [{"Details": {"SageMakerModelPackageDeliveryOptionDetails": {
        "SageMakerModelPackageArn": PACKAGE_ARN,
        "AccessRoleArn": ROLE_ARN,
        "UsageInstructions": "Deploy, then invoke with text/csv.",
        "SampleNotebookUrl": "https://example.com/notebook.ipynb",
        # Limitations is left out when the listing has none: AWS refuses "" (minLength 1).
        "InputProperties": {
            "Description": "Four measurements in cm.\n\nContent types: text/csv",
            "SampleInput": {"RealtimeInferenceText": "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3",
                            "BatchTransformText": "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3"},
            "Parameters": [],
            "SageMakerCustomAttributes": [],
        },
        "OutputProperties": {
            "Description": "The species.\n\nContent types: text/csv",
            "SampleOutput": {"RealtimeInferenceText": "0\n2", "BatchTransformText": "0\n2"},
            "Parameters": [],
        },
        "RecommendedInstanceTypes": {"RealtimeInference": "ml.m5.large",
                                     "BatchTransform": "ml.m5.large"},
        "RepositoryUrl": "https://github.com/example/iris-classifier",
    }}}],
}

HOURLY_PRICING = {
    "PricingModel": "Usage",
    "Terms": [
        {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{"RateCard": [
            {"DimensionKey": "ml.m5.large.m.i.r", "Price": "0.50"},
            {"DimensionKey": "ml.c5.xlarge.m.i.r", "Price": "0.80"},
            {"DimensionKey": "ml.m5.large.m.i.b", "Price": "0.40"},
        ]}]},
        {"Type": "FreeTrialPricingTerm", "Duration": "P14D", "Grants": [
            {"DimensionKey": "ml.m5.large.m.i.r"},
            {"DimensionKey": "ml.c5.xlarge.m.i.r"},
            {"DimensionKey": "ml.m5.large.m.i.b"},
        ]},
    ],
}



def test_a_new_product_is_one_chained_change_set() -> None:
    request = build_request(parse_listing(valid_data()), SAMPLES)
    assert request == {
        "Catalog": "AWSMarketplace",
        "ChangeSetName": "smkit 1.0",
        "ChangeSet": [
            {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT},
             "DetailsDocument": {}, "ChangeName": "CreateProduct"},
            {"ChangeType": "UpdateInformation",
             "Entity": {"Type": PRODUCT, "Identifier": "$CreateProduct.Entity.Identifier"},
             "DetailsDocument": INFORMATION},
            {"ChangeType": "AddDeliveryOptions",
             "Entity": {"Type": PRODUCT, "Identifier": "$CreateProduct.Entity.Identifier"},
             "DetailsDocument": DELIVERY},
            {"ChangeType": "CreateOffer", "Entity": {"Type": OFFER},
             "DetailsDocument": {"ProductId": "$CreateProduct.Entity.Identifier"},
             "ChangeName": "CreateOffer"},
            {"ChangeType": "UpdatePricingTerms",
             "Entity": {"Type": OFFER, "Identifier": "$CreateOffer.Entity.Identifier"},
             "DetailsDocument": HOURLY_PRICING},
            {"ChangeType": "UpdateLegalTerms",
             "Entity": {"Type": OFFER, "Identifier": "$CreateOffer.Entity.Identifier"},
             "DetailsDocument": LEGAL_TERMS},
            {"ChangeType": "UpdateSupportTerms",
             "Entity": {"Type": OFFER, "Identifier": "$CreateOffer.Entity.Identifier"},
             "DetailsDocument": SUPPORT_TERMS},
        ],
    }


def test_per_inference_pricing_uses_m_i_c_for_real_time_and_hourly_batch() -> None:
    data = valid_data()
    data["delivery"]["metering"] = "per-inference"
    data["pricing"] = {"model": "per-inference", "per_inference": "0.0015",
                       "batch": {"ml.m5.large": "0.40"}}
    changes = build_request(parse_listing(data), SAMPLES)["ChangeSet"]
    pricing = next(c for c in changes if c["ChangeType"] == "UpdatePricingTerms")
    assert pricing["DetailsDocument"] == {
        "PricingModel": "Usage",
        "Terms": [{"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [
            {"RateCard": [{"DimensionKey": "m.i.c", "Price": "0.0015"},
                          {"DimensionKey": "ml.m5.large.m.i.b", "Price": "0.40"}]}]}],
    }


def test_free_pricing_prices_every_supported_instance_type_at_zero() -> None:
    data = valid_data()
    data["pricing"] = {"model": "free"}
    changes = build_request(parse_listing(data), SAMPLES)["ChangeSet"]
    pricing = next(c for c in changes if c["ChangeType"] == "UpdatePricingTerms")
    assert pricing["DetailsDocument"]["Terms"] == [
        {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{"RateCard": [
            {"DimensionKey": "ml.m5.large.m.i.r", "Price": "0.00"},
            {"DimensionKey": "ml.c5.xlarge.m.i.r", "Price": "0.00"},
            {"DimensionKey": "ml.m5.large.m.i.b", "Price": "0.00"},
        ]}]},
    ]


def test_an_existing_product_is_updated_in_place_and_released_when_asked() -> None:
    data = valid_data()
    data["eula"] = {"type": "custom", "url": "https://example.com/eula.pdf"}
    request = build_request(parse_listing(data), SAMPLES, release=True,
                            product_id="prod-abc123", offer_id="offer-def456")
    assert [(c["ChangeType"], c["Entity"]) for c in request["ChangeSet"]] == [
        ("UpdateInformation", {"Type": PRODUCT, "Identifier": "prod-abc123"}),
        ("AddDeliveryOptions", {"Type": PRODUCT, "Identifier": "prod-abc123"}),
        ("UpdatePricingTerms", {"Type": OFFER, "Identifier": "offer-def456"}),
        ("UpdateLegalTerms", {"Type": OFFER, "Identifier": "offer-def456"}),
        ("UpdateSupportTerms", {"Type": OFFER, "Identifier": "offer-def456"}),
        ("ReleaseProduct", {"Type": PRODUCT, "Identifier": "prod-abc123"}),
        ("ReleaseOffer", {"Type": OFFER, "Identifier": "offer-def456"}),
        ("UpdateVisibility", {"Type": PRODUCT, "Identifier": "prod-abc123"}),
    ]
    legal = request["ChangeSet"][3]["DetailsDocument"]
    assert legal == {"Terms": [{"Type": "LegalTerm", "Documents": [
        {"Type": "CustomEula", "Url": "https://example.com/eula.pdf"}]}]}
    assert request["ChangeSet"][-1]["DetailsDocument"] == {"TargetVisibility": "Public"}
    assert all("ChangeName" not in c for c in request["ChangeSet"])


def test_a_private_listing_targets_its_buyers_and_is_never_made_public() -> None:
    data = valid_data()
    data["visibility"] = "Private"
    data["buyer_accounts"] = ["111122223333"]
    changes = build_request(parse_listing(data), SAMPLES, release=True)["ChangeSet"]
    targeting = next(c for c in changes if c["ChangeType"] == "UpdateTargeting")
    assert targeting == {
        "ChangeType": "UpdateTargeting",
        "Entity": {"Type": PRODUCT, "Identifier": "$CreateProduct.Entity.Identifier"},
        "DetailsDocument": {"PositiveTargeting": {"BuyerAccounts": ["111122223333"]}},
    }
    assert "UpdateVisibility" not in [c["ChangeType"] for c in changes]


def test_render_writes_the_request_publish_would_send(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_listing(tmp_path, valid_data())
    out = tmp_path / "changeset.json"
    assert main(["listing", "render", str(path), "--out", str(out), "--release"]) == 0
    written = json.loads(out.read_text())
    assert [c["ChangeType"] for c in written["ChangeSet"]] == [
        "CreateProduct", "UpdateInformation", "AddDeliveryOptions", "CreateOffer",
        "UpdatePricingTerms", "UpdateLegalTerms", "UpdateSupportTerms", "ReleaseProduct",
        "ReleaseOffer", "UpdateVisibility",
    ]
    assert written["ChangeSet"][2]["DetailsDocument"] == DELIVERY
    assert "10 changes" in capsys.readouterr().out
