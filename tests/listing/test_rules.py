"""One case per rule: a change set that breaks it is rejected by BOTH tools with that rule.

The two tools are ``listing check``'s checker (``smkit.listing.validate.check_request``, in
this process) and the Catalog emulator (a subprocess, over boto3's wire protocol). Every case's
verdict and limit is typed here by hand from AWS's documents; the source is named per case:

  ML      MachineLearningProduct@1.0 change-type JSON schema (awslabs/aws-marketplace-catalog-
          api-shapes-for-python, machinelearningproduct_1_0_changetypes)
  OFFER   Offer@1.0 change-type schema (offer_1_0 and offer_1_0_appendix shapes)
  ML_API  Catalog API reference, "Work with ML products" (ml-add-version, ml-update-version)
  BOTO    botocore marketplace-catalog 2018-09-17 service model (StartChangeSet)
  GUIDE   AWS Marketplace seller guide (shared/docs/marketplace.md)

Nothing here asks the rule set what its limits are; the last test only checks that every rule
it lists has a case here.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
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
from smkit.listing.rules import Context, all_rules
from smkit.listing.rules.simulation import Entity
from smkit.listing.validate import check_request

ML, OFFER, ML_API, BOTO, GUIDE = "ML", "OFFER", "ML_API", "BOTO", "GUIDE"
PRODUCT, OFFER_TYPE = "MachineLearningProduct@1.0", "Offer@1.0"
ACCOUNT = "123456789012"
PKG = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/rules-iris"
UNCERTIFIED = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/rules-uncertified"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/MarketplaceAccess"
OPT = "DeliveryOptions[0].Details.SageMakerModelPackageDeliveryOptionDetails"
P_REF, O_REF = "$CreateProduct.Entity.Identifier", "$CreateOffer.Entity.Identifier"

INFO = {
    "ProductTitle": "Iris species classifier",
    "ShortDescription": "Tells the iris species from four measurements.",
    "LongDescription": "A decision tree trained on the iris data.",
    "Sku": "IRIS-1",
    "Highlights": ["Fast", "Small"],
    "Categories": ["Machine Learning"],
    "SearchKeywords": ["iris"],
    "LogoUrl": "https://example.com/logo.png",
    "VideoUrls": ["https://example.com/video.mp4"],
    "AdditionalResources": [{"Text": "Docs", "Url": "https://example.com/docs"}],
    "SupportDescription": "Email support@example.com.",
}
OPTION = {
    "SageMakerModelPackageArn": PKG,
    "AccessRoleArn": ROLE,
    "UsageInstructions": "Deploy, then invoke with text/csv.",
    "SampleNotebookUrl": "https://example.com/notebook.ipynb",
    "RepositoryUrl": "https://github.com/example/iris",
    "InputProperties": {
        "Description": "Four measurements in cm.",
        "Limitations": "Numbers only.",
        "SampleInput": {"RealtimeInferenceText": "5.1,3.5,1.4,0.2",
                        "BatchTransformText": "5.1,3.5,1.4,0.2"},
        "Parameters": [{"Name": "sepal_length", "Description": "in cm",
                        "Constraints": "0 to 10", "Required": True}],
        "SageMakerCustomAttributes": [{"Name": "output=probabilities",
                                       "Description": "probabilities instead of labels",
                                       "Constraints": "X-Amzn-SageMaker-Custom-Attributes",
                                       "Required": False}],
    },
    "OutputProperties": {
        "Description": "The species.",
        "SampleOutput": {"RealtimeInferenceText": "0", "BatchTransformText": "0"},
        "Parameters": [{"Name": "label", "Description": "the class", "AlwaysReturned": True}],
    },
    "RecommendedInstanceTypes": {"RealtimeInference": "ml.m5.large",
                                 "BatchTransform": "ml.m5.large"},
}
DELIVERY = delivery_details(OPTION)
PRICING = {"PricingModel": "Usage", "Terms": [
    {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{"RateCard": [
        {"DimensionKey": "ml.m5.large.m.i.r", "Price": "0.50"},
        {"DimensionKey": "ml.c5.xlarge.m.i.r", "Price": "0.80"},
        {"DimensionKey": "ml.m5.large.m.i.b", "Price": "0.40"}]}]},
    {"Type": "FreeTrialPricingTerm", "Duration": "P14D",
     "Grants": [{"DimensionKey": "ml.m5.large.m.i.r"}]}]}


def _p(ct: str, details: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return catalog_change(PRODUCT, ct, details, name, P_REF)


def _o(ct: str, details: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return catalog_change(OFFER_TYPE, ct, details, name, O_REF)


def base() -> list[dict[str, Any]]:
    """A new product and offer, released and made Public: valid by every document."""
    return [
        _p("CreateProduct", {}, "CreateProduct"),
        _p("UpdateInformation", INFO),
        _p("AddDeliveryOptions", DELIVERY),
        _o("CreateOffer", {"ProductId": P_REF}, "CreateOffer"),
        _o("UpdatePricingTerms", PRICING),
        _o("UpdateLegalTerms", LEGAL_TERMS),
        _o("UpdateSupportTerms", SUPPORT_TERMS),
        _p("ReleaseProduct", {}),
        _o("ReleaseOffer", {}),
        _p("UpdateVisibility", {"TargetVisibility": "Public"}),
    ]


# ----------------------------------------------------------------------------- mutations

Mutate = Callable[[list[dict[str, Any]]], None]


def _details(changes: list[dict[str, Any]], ct: str, offer: bool = False) -> dict[str, Any]:
    etype = OFFER_TYPE if offer else PRODUCT
    return next(c["DetailsDocument"] for c in changes
                if c["ChangeType"] == ct and c["Entity"]["Type"] == etype)


def _walk(node: Any, path: str) -> tuple[Any, str | int]:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    last = parts[-1]
    return node, (int(last[1:-1]) if last.startswith("[") else last)


def S(ct: str, path: str, value: Any, offer: bool = False) -> Mutate:
    """Set a field of a change's details."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        node, key = _walk(_details(changes, ct, offer), path)
        node[key] = value
    return mutate


def D(ct: str, path: str, offer: bool = False) -> Mutate:
    """Delete a field of a change's details."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        node, key = _walk(_details(changes, ct, offer), path)
        del node[key]
    return mutate


def A(change: dict[str, Any]) -> Mutate:
    """Add a change at the end."""
    return lambda changes: changes.append(copy.deepcopy(change))


def X(*cts: str) -> Mutate:
    """Remove these change types (product or offer)."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        changes[:] = [c for c in changes if c["ChangeType"] not in cts]
    return mutate


def O(ct: str, path: str, value: Any) -> Mutate:  # noqa: E743
    """Set a field of an offer change."""
    return S(ct, path, value, offer=True)


def opt(path: str, value: Any) -> Mutate:
    """Set a field of AddDeliveryOptions' model package option."""
    return S("AddDeliveryOptions", f"{OPT}.{path}", value)


def opt_del(path: str) -> Mutate:
    """Delete a field of AddDeliveryOptions' model package option."""
    return D("AddDeliveryOptions", f"{OPT}.{path}")


def term(i: int, path: str, value: Any) -> Mutate:
    """Set a field of UpdatePricingTerms' Terms[i]."""
    return O("UpdatePricingTerms", f"Terms[{i}].{path}", value)


def both(*mutations: Mutate) -> Mutate:
    """Several mutations in order."""
    def mutate(changes: list[dict[str, Any]]) -> None:
        for m in mutations:
            m(changes)
    return mutate


@dataclass
class Case:
    """A rule, the limit its message must show, the source, and the breaking change set."""

    rule: str
    limit: str
    source: str
    mutate: Mutate | None = None
    #: For rules about an existing product: changes built from the applied product's IDs.
    existing: Callable[[dict[str, str]], list[dict[str, Any]]] | None = None
    #: For StartChangeSet's own limits: the whole request body.
    request: Callable[[], dict[str, Any]] | None = None


def C(rule: str, limit: str, source: str, *mutations: Mutate) -> Case:
    """A case that changes the base change set."""
    return Case(rule, limit, source, mutate=both(*mutations))


def E(rule: str, limit: str, source: str,
      changes: Callable[[dict[str, str]], list[dict[str, Any]]]) -> Case:
    """A case against the product the module applied first."""
    return Case(rule, limit, source, existing=changes)


def R(rule: str, limit: str, source: str, body: Callable[[], dict[str, Any]]) -> Case:
    """A case about the request itself (StartChangeSet limits)."""
    return Case(rule, limit, source, request=body)


def _update(ids: dict[str, str], details: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"ChangeType": "UpdateDeliveryOptions",
             "Entity": {"Type": PRODUCT, "Identifier": ids["product"]},
             "DetailsDocument": details}]


def _update_option(ids: dict[str, str], **sm: Any) -> dict[str, Any]:
    return {"Version": {"VersionTitle": "1.0"},
            "DeliveryOptions": [{"Id": ids["option"], "Details": {
                "SageMakerModelPackageDeliveryOptionDetails": sm}}]}


def _on_product(ids: dict[str, str], ct: str, details: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"ChangeType": ct, "Entity": {"Type": PRODUCT, "Identifier": ids["product"]},
             "DetailsDocument": details}]


def _request(changes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"Catalog": "AWSMarketplace", "ChangeSet": changes, "Intent": "VALIDATE", **extra}


P, OF, SH = "Product.", "Offer.", "Shape."
UI, AD, UD = "Product.UpdateInformation.", "Product.AddDeliveryOptions.", \
    "Product.UpdateDeliveryOptions."
O_OPT = f"{AD}DeliveryOptions[].Details.SageMakerModelPackageDeliveryOptionDetails."
PT, LT, ST = "Offer.UpdatePricingTerms.", "Offer.UpdateLegalTerms.", "Offer.UpdateSupportTerms."
RC = "Terms[].RateCards[].RateCard"
RC0 = "Terms[0].RateCards[0].RateCard"
RANDOM_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
PRIVATE = [_p("CreateProduct", {}, "CreateProduct"), _p("UpdateInformation", INFO),
           _p("AddDeliveryOptions", DELIVERY),
           _p("UpdateTargeting", {"PositiveTargeting": {"BuyerAccounts": ["111122223333"]}}),
           _p("ReleaseProduct", {}), _p("UpdateVisibility", {"TargetVisibility": "Public"})]

CASES: list[Case] = [
    # --- StartChangeSet (synchronous ValidationException)
    R("StartChangeSet.Request.ChangeSet.min_items", "at least 1", BOTO,
      lambda: _request([])),
    R("StartChangeSet.Request.ChangeSet.max_items", "at most 20", BOTO,
      lambda: _request([_p("CreateProduct", {})] * 21)),
    R("StartChangeSet.Request.ChangeSet[].Details.max_length", "16384", BOTO,
      lambda: _request([{"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT},
                         "Details": json.dumps({"ProductTitle": "t" * 16400})}])),
    R("StartChangeSet.Request.ClientRequestToken.max_length", "64", BOTO,
      lambda: _request([_p("CreateProduct", {})], ClientRequestToken="t" * 65)),
    R("StartChangeSet.Request.ClientRequestToken.pattern", "printable ASCII", BOTO,
      lambda: _request([_p("CreateProduct", {})], ClientRequestToken="two words")),
    R("StartChangeSet.Request.ChangeSetName.max_length", "100", BOTO,
      lambda: _request([_p("CreateProduct", {})], ChangeSetName="n" * 101)),
    R("StartChangeSet.Request.ChangeSetName.pattern", "_+=.:@-", BOTO,
      lambda: _request([_p("CreateProduct", {})], ChangeSetName="bad/name")),
    C("Details.Any.Any.type", "must be a list", ML, S("UpdateInformation", "Highlights", "x")),
    # --- CreateProduct
    C(f"{P}CreateProduct.ProductTitle.max_length", "72", ML,
      S("CreateProduct", "ProductTitle", "T" * 73)),
    C(f"{P}CreateProduct.ProductTitle.pattern", "non-space", ML,
      S("CreateProduct", "ProductTitle", " leading space")),
    # --- UpdateInformation (product)
    C(f"{UI}ProductTitle.max_length", "72", ML, S("UpdateInformation", "ProductTitle", "T" * 73)),
    C(f"{UI}ProductTitle.pattern", "non-space", ML, S("UpdateInformation", "ProductTitle", "")),
    C(f"{UI}ShortDescription.max_length", "1000", ML,
      S("UpdateInformation", "ShortDescription", "s" * 1001)),
    C(f"{UI}ShortDescription.pattern", "non-space", ML,
      S("UpdateInformation", "ShortDescription", "  ")),
    C(f"{UI}LongDescription.max_length", "5000", ML,
      S("UpdateInformation", "LongDescription", "l" * 5001)),
    C(f"{UI}LongDescription.pattern", "non-space", ML,
      S("UpdateInformation", "LongDescription", "\nstarts with a newline")),
    C(f"{UI}Sku.max_length", "5000", ML, S("UpdateInformation", "Sku", "k" * 5001)),
    C(f"{UI}Sku.pattern", "non-space", ML, S("UpdateInformation", "Sku", " SKU")),
    C(f"{UI}LogoUrl.url", "https URL", ML,
      S("UpdateInformation", "LogoUrl", "http://example.com/logo.png")),
    C(f"{UI}VideoUrls.max_items", "at most 1", ML,
      S("UpdateInformation", "VideoUrls", ["https://example.com/1", "https://example.com/2"])),
    C(f"{UI}VideoUrls[].url", "https URL", GUIDE,
      S("UpdateInformation", "VideoUrls", ["https://localhost/video"])),
    C(f"{UI}Highlights.min_items", "at least 1", ML, S("UpdateInformation", "Highlights", [])),
    C(f"{UI}Highlights.max_items", "at most 3", ML,
      S("UpdateInformation", "Highlights", ["a", "b", "c", "d"])),
    C(f"{UI}Highlights[].max_length", "500", ML,
      S("UpdateInformation", "Highlights", ["h" * 501])),
    C(f"{UI}AdditionalResources.max_items", "at most 3", ML,
      S("UpdateInformation", "AdditionalResources",
        [{"Text": "t", "Url": "https://example.com"}] * 4)),
    C(f"{UI}AdditionalResources[].Text.required", "is required", ML,
      S("UpdateInformation", "AdditionalResources", [{"Url": "https://example.com"}])),
    C(f"{UI}AdditionalResources[].Text.max_length", "500", ML,
      S("UpdateInformation", "AdditionalResources",
        [{"Text": "t" * 501, "Url": "https://example.com"}])),
    C(f"{UI}AdditionalResources[].Text.pattern", "non-space", ML,
      S("UpdateInformation", "AdditionalResources", [{"Text": " t", "Url": "https://a.com"}])),
    C(f"{UI}AdditionalResources[].Url.required", "is required", ML,
      S("UpdateInformation", "AdditionalResources", [{"Text": "Docs"}])),
    C(f"{UI}AdditionalResources[].Url.url", "http or https URL", ML,
      S("UpdateInformation", "AdditionalResources", [{"Text": "Docs", "Url": "ftp://a.com/x"}])),
    C(f"{UI}SupportDescription.max_length", "2000", ML,
      S("UpdateInformation", "SupportDescription", "d" * 2001)),
    C(f"{UI}SupportDescription.pattern", "non-space", ML,
      S("UpdateInformation", "SupportDescription", " ")),
    C(f"{UI}Categories.min_items", "at least 1", ML, S("UpdateInformation", "Categories", [])),
    C(f"{UI}Categories.max_items", "at most 3", ML,
      S("UpdateInformation", "Categories", ["a", "b", "c", "d"])),
    C(f"{UI}AssociatedProducts.absent", "not accepted", ML,
      S("UpdateInformation", "AssociatedProducts", ["prod-abcdefghijklm"])),
    C(f"{UI}SearchKeywords.min_items", "at least 1", ML,
      S("UpdateInformation", "SearchKeywords", [])),
    C(f"{UI}SearchKeywords.max_items", "at most 15", ML,
      S("UpdateInformation", "SearchKeywords", [f"k{i}" for i in range(16)])),
    C(f"{UI}SearchKeywords[].max_length", "50", ML,
      S("UpdateInformation", "SearchKeywords", ["k" * 51])),
    # --- AddDeliveryOptions
    C(f"{AD}Version.required", "is required", ML, D("AddDeliveryOptions", "Version")),
    C(f"{AD}Version.VersionTitle.required", "is required", ML,
      D("AddDeliveryOptions", "Version.VersionTitle")),
    C(f"{AD}Version.VersionTitle.max_length", "64", ML,
      S("AddDeliveryOptions", "Version.VersionTitle", "v" * 65)),
    C(f"{AD}Version.VersionTitle.pattern", "non-space", ML,
      S("AddDeliveryOptions", "Version.VersionTitle", " 1.0")),
    C(f"{AD}Version.ReleaseNotes.required", "is required", ML,
      D("AddDeliveryOptions", "Version.ReleaseNotes")),
    C(f"{AD}Version.ReleaseNotes.max_length", "30000", ML,
      S("AddDeliveryOptions", "Version.ReleaseNotes", "r" * 30001)),
    C(f"{AD}Version.ReleaseNotes.pattern", "non-space", ML,
      S("AddDeliveryOptions", "Version.ReleaseNotes", "")),
    C(f"{AD}DeliveryOptions.required", "is required", ML_API,
      D("AddDeliveryOptions", "DeliveryOptions")),
    C(f"{AD}DeliveryOptions.min_items", "at least 1", ML_API,
      S("AddDeliveryOptions", "DeliveryOptions", [])),
    # "For ML products, a version consists of a single delivery option" (ml-add-version).
    C(f"{AD}DeliveryOptions.max_items", "at most 1", ML_API,
      S("AddDeliveryOptions", "DeliveryOptions",
        [{"Details": {"SageMakerModelPackageDeliveryOptionDetails": OPTION}}] * 2)),
    C(f"{AD}DeliveryOptions[].Details.required", "is required", ML,
      S("AddDeliveryOptions", "DeliveryOptions", [{}])),
    C(f"{O_OPT[:-1]}.required", "is required", ML,
      S("AddDeliveryOptions", "DeliveryOptions", [{"Details": {}}])),
    C(f"{O_OPT}UsageInstructions.required", "is required", ML, opt_del("UsageInstructions")),
    C(f"{O_OPT}SampleNotebookUrl.required", "is required", ML, opt_del("SampleNotebookUrl")),
    C(f"{O_OPT}RepositoryUrl.required", "is required", ML, opt_del("RepositoryUrl")),
    C(f"{O_OPT}InputProperties.required", "is required", ML, opt_del("InputProperties")),
    C(f"{O_OPT}OutputProperties.required", "is required", ML, opt_del("OutputProperties")),
    C(f"{O_OPT}RecommendedInstanceTypes.required", "is required", ML,
      opt_del("RecommendedInstanceTypes")),
    C(f"{O_OPT}SageMakerModelPackageArn.required", "is required", ML,
      opt_del("SageMakerModelPackageArn")),
    C(f"{O_OPT}SageMakerModelPackageArn.pattern", "model package ARN", ML,
      opt("SageMakerModelPackageArn", "rules-iris")),
    C(f"{O_OPT}AccessRoleArn.required", "is required", ML, opt_del("AccessRoleArn")),
    C(f"{O_OPT}AccessRoleArn.pattern", "not a role name", ML,
      opt("AccessRoleArn", "MarketplaceAccess")),
    # --- the delivery option's shape (AddDeliveryOptions and UpdateDeliveryOptions)
    C(f"{SH}DeliveryOption.UsageInstructions.max_length", "10000", ML,
      opt("UsageInstructions", "u" * 10001)),
    C(f"{SH}DeliveryOption.SampleNotebookUrl.max_length", "2000", ML,
      opt("SampleNotebookUrl", "https://example.com/" + "n" * 2000)),
    C(f"{SH}DeliveryOption.SampleNotebookUrl.url", "https URL", ML,
      opt("SampleNotebookUrl", "http://example.com/notebook.ipynb")),
    C(f"{SH}DeliveryOption.RepositoryUrl.max_length", "2000", ML,
      opt("RepositoryUrl", "https://example.com/" + "r" * 2000)),
    C(f"{SH}DeliveryOption.RepositoryUrl.url", "https URL", ML,
      opt("RepositoryUrl", "https://nohost")),
    C(f"{SH}DeliveryOption.InputProperties.Description.min_length", "at least 1", ML,
      opt("InputProperties.Description", "")),
    C(f"{SH}DeliveryOption.InputProperties.Description.max_length", "10000", ML,
      opt("InputProperties.Description", "d" * 10001)),
    C(f"{SH}DeliveryOption.InputProperties.Limitations.min_length", "at least 1", ML,
      opt("InputProperties.Limitations", "")),
    C(f"{SH}DeliveryOption.InputProperties.Limitations.max_length", "1000", ML,
      opt("InputProperties.Limitations", "l" * 1001)),
    C(f"{SH}DeliveryOption.OutputProperties.Description.min_length", "at least 1", ML,
      opt("OutputProperties.Description", "")),
    C(f"{SH}DeliveryOption.OutputProperties.Description.max_length", "10000", ML,
      opt("OutputProperties.Description", "d" * 10001)),
    C(f"{SH}DeliveryOption.RecommendedInstanceTypes.RealtimeInference.max_length", "24", ML,
      opt("RecommendedInstanceTypes.RealtimeInference", "ml." + "x" * 22)),
    C(f"{SH}DeliveryOption.RecommendedInstanceTypes.RealtimeInference.pattern", "no spaces", ML,
      opt("RecommendedInstanceTypes.RealtimeInference", "ml.m5 large")),
    C(f"{SH}DeliveryOption.RecommendedInstanceTypes.BatchTransform.max_length", "24", ML,
      opt("RecommendedInstanceTypes.BatchTransform", "ml." + "x" * 22)),
    C(f"{SH}DeliveryOption.RecommendedInstanceTypes.BatchTransform.pattern", "no spaces", ML,
      opt("RecommendedInstanceTypes.BatchTransform", "")),
    C(f"{SH}Sample.RealtimeInferenceText.min_length", "at least 1", ML,
      opt("InputProperties.SampleInput.RealtimeInferenceText", "")),
    C(f"{SH}Sample.RealtimeInferenceText.max_length", "10000", ML,
      opt("InputProperties.SampleInput.RealtimeInferenceText", "1" * 10001)),
    C(f"{SH}Sample.BatchTransformText.min_length", "at least 1", ML,
      opt("OutputProperties.SampleOutput.BatchTransformText", "")),
    C(f"{SH}Sample.BatchTransformText.max_length", "10000", ML,
      opt("OutputProperties.SampleOutput.BatchTransformText", "1" * 10001)),
    C(f"{SH}Sample.RealtimeInferenceUrl.max_length", "10000", ML,
      opt("InputProperties.SampleInput.RealtimeInferenceUrl",
          "https://example.com/" + "s" * 10000)),
    C(f"{SH}Sample.RealtimeInferenceUrl.url", "https URL", ML,
      opt("InputProperties.SampleInput.RealtimeInferenceUrl", "http://example.com/in.csv")),
    C(f"{SH}Sample.BatchTransformUrl.max_length", "10000", ML,
      opt("OutputProperties.SampleOutput.BatchTransformUrl",
          "https://example.com/" + "s" * 10000)),
    C(f"{SH}Sample.BatchTransformUrl.url", "https URL", ML,
      opt("OutputProperties.SampleOutput.BatchTransformUrl", "s3://bucket/out.csv")),
    C(f"{SH}Parameters.List.max_items", "at most 35", ML,
      opt("InputProperties.Parameters",
          [{"Name": f"p{i}", "Description": "d", "Required": False} for i in range(36)])),
    C(f"{SH}Parameter.Name.min_length", "at least 1", ML,
      opt("InputProperties.Parameters[0].Name", "")),
    C(f"{SH}Parameter.Name.max_length", "100", ML,
      opt("OutputProperties.Parameters[0].Name", "n" * 101)),
    C(f"{SH}Parameter.Name.pattern", "printable ASCII", ML,
      opt("InputProperties.SageMakerCustomAttributes[0].Name", "\u00e9t\u00e9")),
    C(f"{SH}Parameter.Description.min_length", "at least 1", ML,
      opt("OutputProperties.Parameters[0].Description", "")),
    C(f"{SH}Parameter.Description.max_length", "1000", ML,
      opt("InputProperties.Parameters[0].Description", "d" * 1001)),
    C(f"{SH}Parameter.Constraints.min_length", "at least 1", ML,
      opt("InputProperties.Parameters[0].Constraints", "")),
    C(f"{SH}Parameter.Constraints.max_length", "1500", ML,
      opt("InputProperties.SageMakerCustomAttributes[0].Constraints", "c" * 1501)),
    # --- AddDeliveryOptions across fields and against the model package
    E(f"{AD}Version.VersionTitle.unique", "already exists", ML_API,
      lambda ids: _on_product(ids, "AddDeliveryOptions", DELIVERY)),
    C(f"{P}AddDeliveryOptions.SageMakerModelPackageDeliveryOptionDetails."
      "SageMakerModelPackageArn.exists", "does not exist", ML_API,
      opt("SageMakerModelPackageArn", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/no")),
    C(f"{P}AddDeliveryOptions.SageMakerModelPackageDeliveryOptionDetails."
      "SageMakerModelPackageArn.certified", "CertifyForMarketplace=True", GUIDE,
      opt("SageMakerModelPackageArn", UNCERTIFIED)),
    C(f"{P}AddDeliveryOptions.SageMakerModelPackageDeliveryOptionDetails."
      "SageMakerModelPackageArn.seller_account", "not the seller's account", GUIDE,
      opt("SageMakerModelPackageArn", "arn:aws:sagemaker:us-east-1:999999999999:model-package/x")),
    C(f"{P}AddDeliveryOptions.SageMakerModelPackageDeliveryOptionDetails."
      "SageMakerModelPackageArn.seller_region", "not the seller's region", GUIDE,
      opt("SageMakerModelPackageArn", f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/x")),
    C(f"{P}AddDeliveryOptions.SageMakerModelPackageDeliveryOptionDetails."
      "AccessRoleArn.seller_account", "not the seller's account", GUIDE,
      opt("AccessRoleArn", "arn:aws:iam::999999999999:role/MarketplaceAccess")),
    C(f"{P}AddDeliveryOptions.SageMakerModelPackageDeliveryOptionDetails."
      "RecommendedInstanceTypes.supported", "not among", ML_API,
      opt("RecommendedInstanceTypes.BatchTransform", "ml.c5.xlarge")),
    # --- UpdateDeliveryOptions (on the product applied first)
    E(f"{UD}Version.required", "is required", ML_API,
      lambda ids: _update(ids, {"DeliveryOptions": _update_option(ids)["DeliveryOptions"]})),
    E(f"{UD}Version.VersionTitle.required", "is required", ML_API,
      lambda ids: _update(ids, {**_update_option(ids), "Version": {"ReleaseNotes": "n"}})),
    E(f"{UD}Version.VersionTitle.max_length", "64", ML,
      lambda ids: _update(ids, {**_update_option(ids), "Version": {"VersionTitle": "v" * 65}})),
    E(f"{UD}Version.VersionTitle.pattern", "non-space", ML,
      lambda ids: _update(ids, {**_update_option(ids), "Version": {"VersionTitle": " v"}})),
    E(f"{UD}Version.ReleaseNotes.max_length", "30000", ML,
      lambda ids: _update(ids, {**_update_option(ids),
                                "Version": {"VersionTitle": "1.0", "ReleaseNotes": "r" * 30001}})),
    E(f"{UD}Version.ReleaseNotes.pattern", "non-space", ML,
      lambda ids: _update(ids, {**_update_option(ids),
                                "Version": {"VersionTitle": "1.0", "ReleaseNotes": " "}})),
    E(f"{UD}DeliveryOptions.required", "is required", ML,
      lambda ids: _update(ids, {"Version": {"VersionTitle": "1.0"}})),
    E(f"{UD}DeliveryOptions.min_items", "at least 1", ML,
      lambda ids: _update(ids, {"Version": {"VersionTitle": "1.0"}, "DeliveryOptions": []})),
    E(f"{UD}DeliveryOptions.max_items", "at most 1", ML,
      lambda ids: _update(ids, {"Version": {"VersionTitle": "1.0"},
                                "DeliveryOptions": _update_option(ids)["DeliveryOptions"] * 2})),
    E(f"{UD}DeliveryOptions[].Id.required", "is required", ML,
      lambda ids: _update(ids, {"Version": {"VersionTitle": "1.0"},
                                "DeliveryOptions": [{"Details": {}}]})),
    E(f"{UD}DeliveryOptions[].Id.max_length", "36", ML,
      lambda ids: _update(ids, {"Version": {"VersionTitle": "1.0"},
                                "DeliveryOptions": [{"Id": ids["option"] + "-0"}]})),
    E(f"{UD}DeliveryOptions[].Id.pattern", "UUID", ML,
      lambda ids: _update(ids, {"Version": {"VersionTitle": "1.0"},
                                "DeliveryOptions": [{"Id": "not-a-uuid"}]})),
    E(f"{UD}DeliveryOptions[].Id.exists", "no delivery option", ML_API,
      lambda ids: _update(ids, {"Version": {"VersionTitle": "1.0"},
                                "DeliveryOptions": [{"Id": RANDOM_ID}]})),
    E(f"{UD}DeliveryOptions[].Details.SageMakerModelPackageDeliveryOptionDetails."
      "SageMakerModelPackageArn.absent", "not accepted", ML_API,
      lambda ids: _update(ids, _update_option(ids, SageMakerModelPackageArn=PKG))),
    E(f"{P}UpdateDeliveryOptions.SageMakerModelPackageDeliveryOptionDetails."
      "RecommendedInstanceTypes.supported", "not among", ML_API,
      lambda ids: _update(ids, _update_option(
          ids, RecommendedInstanceTypes={"RealtimeInference": "ml.p3.2xlarge"}))),
    # --- RestrictDeliveryOptions
    E(f"{P}RestrictDeliveryOptions.DeliveryOptionIds.required", "is required", ML,
      lambda ids: _on_product(ids, "RestrictDeliveryOptions", {})),
    E(f"{P}RestrictDeliveryOptions.DeliveryOptionIds.min_items", "at least 1", ML,
      lambda ids: _on_product(ids, "RestrictDeliveryOptions", {"DeliveryOptionIds": []})),
    E(f"{P}RestrictDeliveryOptions.DeliveryOptionIds.max_items", "at most 50", ML,
      lambda ids: _on_product(ids, "RestrictDeliveryOptions",
                              {"DeliveryOptionIds": [ids["option"]] * 51})),
    E(f"{P}RestrictDeliveryOptions.DeliveryOptionIds[].max_length", "36", ML,
      lambda ids: _on_product(ids, "RestrictDeliveryOptions",
                              {"DeliveryOptionIds": ["x" * 37]})),
    E(f"{P}RestrictDeliveryOptions.DeliveryOptionIds[].exists", "no delivery option", ML_API,
      lambda ids: _on_product(ids, "RestrictDeliveryOptions",
                              {"DeliveryOptionIds": [RANDOM_ID]})),
    # --- UpdateTargeting
    C(f"{P}UpdateTargeting.PositiveTargeting.required", "is required", ML,
      A(_p("UpdateTargeting", {})), X("UpdateVisibility")),
    C(f"{P}UpdateTargeting.PositiveTargeting.BuyerAccounts.required", "is required", ML,
      A(_p("UpdateTargeting", {"PositiveTargeting": {}})), X("UpdateVisibility")),
    C(f"{P}UpdateTargeting.PositiveTargeting.BuyerAccounts.max_items", "at most 100", ML,
      A(_p("UpdateTargeting", {"PositiveTargeting": {
          "BuyerAccounts": [f"{i:012d}" for i in range(101)]}})), X("UpdateVisibility")),
    C(f"{P}UpdateTargeting.PositiveTargeting.BuyerAccounts[].pattern", "12-digit", GUIDE,
      A(_p("UpdateTargeting", {"PositiveTargeting": {"BuyerAccounts": ["1111-2222-3333"]}})),
      X("UpdateVisibility")),
    # --- UpdateVisibility
    C(f"{P}UpdateVisibility.TargetVisibility.required", "is required", ML,
      S("UpdateVisibility", "TargetVisibility", None)),
    C(f"{P}UpdateVisibility.TargetVisibility.enum", "Public, Restricted, Limited", ML,
      S("UpdateVisibility", "TargetVisibility", "Private")),
    C(f"{P}UpdateVisibility.ReplacementProductId.pattern", "product ID", ML,
      S("UpdateVisibility", "ReplacementProductId", "product-1")),
    C(f"{P}UpdateVisibility.TargetVisibility.released", "ReleaseProduct", GUIDE,
      X("ReleaseProduct", "ReleaseOffer")),
    Case(f"{P}UpdateVisibility.TargetVisibility.never_public_if_private", "never become Public",
         GUIDE, mutate=lambda changes: changes.__setitem__(slice(None), copy.deepcopy(PRIVATE))),
    # --- ReleaseProduct
    C(f"{P}ReleaseProduct.Description.required_before_release", "UpdateInformation", ML_API,
      X("UpdateInformation", "UpdateVisibility")),
    C(f"{P}ReleaseProduct.Versions.required_before_release", "AddDeliveryOptions", ML_API,
      X("AddDeliveryOptions", "UpdateVisibility")),
    # --- CreateOffer
    C(f"{OF}CreateOffer.ProductId.required", "is required", OFFER,
      O("CreateOffer", "ProductId", None)),
    C(f"{OF}CreateOffer.ProductId.max_length", "50", OFFER,
      O("CreateOffer", "ProductId", "prod-" + "a" * 46)),
    C(f"{OF}CreateOffer.ProductId.pattern", "product ID", OFFER,
      O("CreateOffer", "ProductId", "prod abc")),
    C(f"{OF}CreateOffer.ProductId.exists", "is not a product", OFFER,
      O("CreateOffer", "ProductId", "prod-abcdefghijklm")),
    C(f"{OF}CreateOffer.Name.max_length", "150", OFFER, O("CreateOffer", "Name", "n" * 151)),
    C(f"{OF}CreateOffer.Name.pattern", "non-space", OFFER, O("CreateOffer", "Name", " n")),
    # --- UpdateInformation (offer)
    C(f"{OF}UpdateInformation.Name.max_length", "150", OFFER,
      A(_o("UpdateInformation", {"Name": "n" * 151}))),
    C(f"{OF}UpdateInformation.Name.pattern", "non-space", OFFER,
      A(_o("UpdateInformation", {"Name": " offer"}))),
    C(f"{OF}UpdateInformation.Description.max_length", "255", OFFER,
      A(_o("UpdateInformation", {"Description": "d" * 256}))),
    C(f"{OF}UpdateInformation.Description.pattern", "non-space", OFFER,
      A(_o("UpdateInformation", {"Description": ""}))),
    # --- UpdateAvailability
    C(f"{OF}UpdateAvailability.AvailabilityEndDate.required", "is required", OFFER,
      A(_o("UpdateAvailability", {}))),
    C(f"{OF}UpdateAvailability.AvailabilityEndDate.pattern", "YYYY-MM-DD", OFFER,
      A(_o("UpdateAvailability", {"AvailabilityEndDate": "2030-02-30"}))),
    # --- UpdatePricingTerms
    C(f"{PT}PricingModel.required", "is required", OFFER,
      O("UpdatePricingTerms", "PricingModel", None)),
    C(f"{PT}PricingModel.enum", "Usage, Free", GUIDE,
      O("UpdatePricingTerms", "PricingModel", "Contract")),
    C(f"{PT}Terms.required", "is required", OFFER, O("UpdatePricingTerms", "Terms", None)),
    C(f"{PT}Terms.min_items", "at least 1", OFFER, O("UpdatePricingTerms", "Terms", [])),
    C(f"{PT}Terms[].Type.required", "is required", OFFER, term(1, "Type", None)),
    C(f"{PT}Terms[].Type.enum", "UsageBasedPricingTerm, FreeTrialPricingTerm", GUIDE,
      term(1, "Type", "FixedUpfrontPricingTerm")),
    C(f"{PT}Terms[].Type.unique", "more than once", OFFER,
      O("UpdatePricingTerms", "Terms", [PRICING["Terms"][0], PRICING["Terms"][0]])),
    C(f"{PT}Terms[].CurrencyCode.enum", "USD, EUR, GBP, AUD, JPY, CAD", OFFER,
      term(0, "CurrencyCode", "usd")),
    C(f"{PT}Terms[].RateCards.min_items", "at least 1", OFFER, term(0, "RateCards", [])),
    C(f"{PT}Terms[].RateCards.max_items", "at most 1", OFFER,
      term(0, "RateCards", PRICING["Terms"][0]["RateCards"] * 2)),  # type: ignore[index]
    C(f"{PT}{RC}.required", "is required", OFFER, term(0, "RateCards", [{}])),
    C(f"{PT}{RC}.min_items", "at least 1", OFFER, term(0, "RateCards", [{"RateCard": []}])),
    C(f"{PT}{RC}.max_items", "at most 800", OFFER,
      term(0, "RateCards", [{"RateCard": [{"DimensionKey": "m.i.c", "Price": "1"}] * 801}])),
    C(f"{PT}{RC}[].DimensionKey.required", "is required", OFFER,
      O("UpdatePricingTerms", f"{RC0}[0].DimensionKey", None)),
    C(f"{PT}{RC}[].DimensionKey.min_length", "at least 1", OFFER,
      O("UpdatePricingTerms", f"{RC0}[0].DimensionKey", "")),
    C(f"{PT}{RC}[].DimensionKey.max_length", "100", OFFER,
      O("UpdatePricingTerms", f"{RC0}[0].DimensionKey", "ml." + "m" * 98)),
    C(f"{PT}{RC}[].DimensionKey.pattern", "m.i.c", GUIDE,
      O("UpdatePricingTerms", f"{RC0}[0].DimensionKey", "ml.m5.large.a.t")),
    C(f"{PT}{RC}[].Price.required", "is required", OFFER,
      O("UpdatePricingTerms", f"{RC0}[0].Price", None)),
    C(f"{PT}{RC}[].Price.pattern", "at most 8 decimals", OFFER,
      O("UpdatePricingTerms", f"{RC0}[0].Price", "0.123456789")),
    C(f"{PT}{RC}.covers_supported", "ml.c5.xlarge.m.i.r", GUIDE,
      O("UpdatePricingTerms", f"{RC0}", [{"DimensionKey": "ml.m5.large.m.i.r", "Price": "1"},
                                         {"DimensionKey": "ml.m5.large.m.i.b", "Price": "1"}])),
    C(f"{PT}{RC}.only_supported", "ml.p3.2xlarge.m.i.b", GUIDE,
      O("UpdatePricingTerms", f"{RC0}[2]", {"DimensionKey": "ml.p3.2xlarge.m.i.b", "Price": "3"}),
      lambda changes: _details(changes, "UpdatePricingTerms", True)["Terms"][0]["RateCards"][0][
          "RateCard"].append({"DimensionKey": "ml.m5.large.m.i.b", "Price": "0.40"})),
    C(f"{PT}Terms[UsageBasedPricingTerm].required", "CurrencyCode", OFFER,
      term(0, "CurrencyCode", None)),
    C(f"{PT}Terms.usage_term", "needs a UsageBasedPricingTerm", OFFER,
      O("UpdatePricingTerms", "Terms", [PRICING["Terms"][1]])),
    C(f"{PT}Terms[FreeTrialPricingTerm].required", "Duration", OFFER, term(1, "Duration", None)),
    C(f"{PT}Terms[].Duration.pattern", "ISO 8601 duration", OFFER, term(1, "Duration", "14D")),
    C(f"{PT}Terms[].Duration.trial_days", "P5D to P120D", GUIDE, term(1, "Duration", "P121D")),
    C(f"{PT}Terms[].Grants.min_items", "at least 1", OFFER, term(1, "Grants", [])),
    C(f"{PT}Terms[].Grants.max_items", "at most 800", OFFER,
      term(1, "Grants", [{"DimensionKey": "ml.m5.large.m.i.r"}] * 801)),
    C(f"{PT}Terms[].Grants[].DimensionKey.required", "is required", OFFER,
      term(1, "Grants", [{}])),
    C(f"{PT}Terms[].Grants[].DimensionKey.min_length", "at least 1", OFFER,
      term(1, "Grants", [{"DimensionKey": ""}])),
    C(f"{PT}Terms[].Grants[].DimensionKey.max_length", "100", OFFER,
      term(1, "Grants", [{"DimensionKey": "g" * 101}])),
    C(f"{PT}Terms[].Grants[].DimensionKey.hourly_only", "not m.i.c", GUIDE,
      term(1, "Grants", [{"DimensionKey": "m.i.c"}])),
    C(f"{PT}Terms[].Grants[].DimensionKey.priced", "not a dimension of the rate card", OFFER,
      term(1, "Grants", [{"DimensionKey": "ml.p3.2xlarge.m.i.r"}])),
    # --- UpdateLegalTerms
    C(f"{LT}Terms.required", "is required", OFFER, O("UpdateLegalTerms", "Terms", None)),
    C(f"{LT}Terms.min_items", "at least 1", OFFER, O("UpdateLegalTerms", "Terms", [])),
    C(f"{LT}Terms.max_items", "at most 1", OFFER,
      O("UpdateLegalTerms", "Terms", LEGAL_TERMS["Terms"] * 2)),
    C(f"{LT}Terms[].Type.required", "is required", OFFER,
      O("UpdateLegalTerms", "Terms[0].Type", None)),
    C(f"{LT}Terms[].Type.enum", "LegalTerm", OFFER,
      O("UpdateLegalTerms", "Terms[0].Type", "SupportTerm")),
    C(f"{LT}Terms[].Documents.required", "is required", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents", None)),
    C(f"{LT}Terms[].Documents.min_items", "at least 1", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents", [])),
    C(f"{LT}Terms[].Documents.max_items", "at most 1", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents",
        [{"Type": "StandardEula", "Version": "2022-07-14"}] * 2)),
    C(f"{LT}Terms[].Documents[].Type.required", "is required", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents[0].Type", None)),
    C(f"{LT}Terms[].Documents[].Type.enum", "CustomEula, StandardEula", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents[0].Type", "Eula")),
    C(f"{LT}Terms[].Documents[].Url.max_length", "32000", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents[0]",
        {"Type": "CustomEula", "Url": "https://example.com/" + "e" * 32000})),
    C(f"{LT}Terms[].Documents[].Url.url", "https URL", GUIDE,
      O("UpdateLegalTerms", "Terms[0].Documents[0]",
        {"Type": "CustomEula", "Url": "http://example.com/eula.pdf"})),
    C(f"{LT}Terms[].Documents[].Version.enum", "2022-07-14", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents[0].Version", "2024-01-01")),
    C(f"{LT}Terms[].Documents[CustomEula].Url.required", "needs Url", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents[0]", {"Type": "CustomEula"})),
    C(f"{LT}Terms[].Documents[StandardEula].Version.required", "needs Version", OFFER,
      O("UpdateLegalTerms", "Terms[0].Documents[0]", {"Type": "StandardEula"})),
    # --- UpdateSupportTerms
    C(f"{ST}Terms.required", "is required", OFFER, O("UpdateSupportTerms", "Terms", None)),
    C(f"{ST}Terms.max_items", "at most 1", OFFER,
      O("UpdateSupportTerms", "Terms", SUPPORT_TERMS["Terms"] * 2)),
    C(f"{ST}Terms[].Type.required", "is required", OFFER,
      O("UpdateSupportTerms", "Terms[0].Type", None)),
    C(f"{ST}Terms[].Type.enum", "SupportTerm", OFFER,
      O("UpdateSupportTerms", "Terms[0].Type", "LegalTerm")),
    C(f"{ST}Terms[].RefundPolicy.required", "is required", OFFER,
      O("UpdateSupportTerms", "Terms[0].RefundPolicy", None)),
    C(f"{ST}Terms[].RefundPolicy.min_length", "at least 1", OFFER,
      O("UpdateSupportTerms", "Terms[0].RefundPolicy", "")),
    C(f"{ST}Terms[].RefundPolicy.max_length", "500", OFFER,
      O("UpdateSupportTerms", "Terms[0].RefundPolicy", "r" * 501)),
    C(f"{ST}Terms[].RefundPolicy.charset", "ASCII", OFFER,
      O("UpdateSupportTerms", "Terms[0].RefundPolicy", "Refunds \u2013 within 30 days")),
    # --- ReleaseOffer
    C(f"{OF}ReleaseOffer.Terms.required_before_release", "support terms", ML_API,
      X("UpdateSupportTerms")),
]

#: Change sets every document allows: both tools must accept them.
VALID: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "the base product and offer": lambda changes: None,
    # The schema's AdditionalResource.Url pattern is ^https?:// : http is allowed.
    "an http AdditionalResources link": S("UpdateInformation", "AdditionalResources",
                                          [{"Text": "Docs", "Url": "http://example.com/docs"}]),
    "per-inference pricing": O("UpdatePricingTerms", "Terms", [
        {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{"RateCard": [
            {"DimensionKey": "m.i.c", "Price": "0.00100000"},
            {"DimensionKey": "ml.m5.large.m.i.b", "Price": "100000000"}]}]}]),
    "no optional fields": both(D("UpdateInformation", "Sku"), D("UpdateInformation", "VideoUrls"),
                               opt_del("InputProperties.Limitations"),
                               opt_del("InputProperties.Parameters[0].Constraints")),
    "sample by https link": both(
        opt_del("InputProperties.SampleInput.RealtimeInferenceText"),
        opt("InputProperties.SampleInput.RealtimeInferenceUrl",
            "https://example.com/samples/input.csv")),
    "offer name, description and availability": both(
        A(_o("UpdateInformation", {"Name": "Iris offer", "Description": "Hourly."})),
        A(_o("UpdateAvailability", {"AvailabilityEndDate": "2032-02-29"}))),
    "custom EULA and the symbols a refund policy may use": both(
        O("UpdateLegalTerms", "Terms[0].Documents[0]",
          {"Type": "CustomEula", "Url": "https://example.com/eula.pdf"}),
        O("UpdateSupportTerms", "Terms[0].RefundPolicy", "Refunds within 30 days \u00a9")),
    "a private listing": lambda changes: changes.__setitem__(
        slice(None), copy.deepcopy(PRIVATE[:-1])),
}


# ----------------------------------------------------------------------------- the two tools

RULE_IN = re.compile(r"\[rule (.+)\]$")


@pytest.fixture(scope="module")
def setup(moto: Server, catalog: Server) -> dict[str, Any]:
    """Model packages in moto, and one product applied on the emulator for the E cases."""
    create_package(moto.url, "rules-iris", realtime=["ml.m5.large", "ml.c5.xlarge"],
                   batch=["ml.m5.large"])
    create_package(moto.url, "rules-uncertified", realtime=["ml.m5.large"],
                   batch=["ml.m5.large"], certify=False)
    client = boto3.client("marketplace-catalog", endpoint_url=catalog.url,
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    changes = base()[:-1]  # released, not Public: no review to wait for
    started = client.start_change_set(Catalog="AWSMarketplace", ChangeSet=changes)
    final = wait_change_set(client, started["ChangeSetId"])
    assert final["Status"] == "SUCCEEDED", final
    product = final["ChangeSet"][0]["Entity"]["Identifier"].split("@")[0]
    offer = final["ChangeSet"][3]["Entity"]["Identifier"].split("@")[0]
    described = {i: client.describe_entity(Catalog="AWSMarketplace", EntityId=i)
                 for i in (product, offer)}
    option = described[product]["DetailsDocument"]["Versions"][0]["DeliveryOptions"][0]["Id"]
    entities = {i: Entity(i, d["EntityType"], d["DetailsDocument"]) for i, d in described.items()}
    ctx = Context(seller_account=ACCOUNT, region="us-east-1",
                  lookup=sagemaker_lookup(moto.url, "us-east-1"))
    return {"client": client, "url": catalog.url, "ids": {"product": product, "offer": offer,
                                                          "option": option},
            "entities": entities, "ctx": ctx}


def _body(case: Case, ids: dict[str, str]) -> dict[str, Any]:
    if case.request is not None:
        return case.request()
    if case.existing is not None:
        return _request(case.existing(ids))
    changes = base()
    assert case.mutate is not None
    case.mutate(changes)
    return _request(changes)


def listing_check(body: dict[str, Any], setup: dict[str, Any], existing: bool) -> list[str]:
    """The messages of ``listing check``'s checker for this request."""
    entities = setup["entities"] if existing else None
    found = check_request(body, setup["ctx"], entities=copy.deepcopy(entities))
    return [v.message for _, v in found]


@pytest.fixture(scope="module")
def emulator_verdicts(setup: dict[str, Any]) -> dict[str, list[str]]:
    """Every case and valid change set sent to the emulator at once; the messages it gave."""
    client, ids = setup["client"], setup["ids"]
    started: dict[str, str] = {}
    out: dict[str, list[str]] = {}
    bodies = {f"case {i}": _body(c, ids) for i, c in enumerate(CASES)}
    for name, mutate in VALID.items():
        changes = base()
        mutate(changes)
        bodies[f"valid {name}"] = _request(changes)
    def finish(key: str, cs_id: str) -> None:
        final = wait_change_set(client, cs_id)
        out[key] = [f"{e['ErrorCode']}: {e['ErrorMessage']}"
                    for change in final["ChangeSet"] for e in change["ErrorDetailList"]]
        assert (final["Status"] == "SUCCEEDED") == (not out[key]), final

    for key, body in bodies.items():
        # Over the wire as boto3 would send it (a raw POST, so limits boto3 checks itself, such
        # as an empty ChangeSet, still reach the emulator).
        answer = requests.post(f"{setup['url']}/StartChangeSet", json=body, timeout=10)
        if answer.status_code != 200:
            out[key] = [f"{answer.headers.get('x-amzn-ErrorType')}: {answer.json()['Message']}"]
        elif key.startswith("case") and CASES[int(key.split()[1])].existing is not None:
            # A change set locks the product it changes: these go one after the other.
            finish(key, answer.json()["ChangeSetId"])
        else:
            started[key] = answer.json()["ChangeSetId"]
    for key, cs_id in started.items():
        finish(key, cs_id)
    return out


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.rule for c in CASES])
def test_both_tools_reject_the_case_with_the_same_rule(
        index: int, setup: dict[str, Any], emulator_verdicts: dict[str, list[str]]) -> None:
    case = CASES[index]
    body = _body(case, setup["ids"])
    checked = listing_check(body, setup, case.existing is not None)
    emulated = emulator_verdicts[f"case {index}"]
    for tool, messages in (("listing check", checked), ("emulator", emulated)):
        hits = [m for m in messages if f"[rule {case.rule}]" in m]
        assert hits, f"{tool} did not report {case.rule}: {messages}"
        assert any(case.limit in m for m in hits), f"{tool}: no {case.limit!r} in {hits}"
    # The emulator answers with AWS's codes: synchronous limits as ValidationException, the
    # rest as ErrorDetailList codes.
    expected = "ValidationException" if case.request is not None else None
    for m in emulated:
        if f"[rule {case.rule}]" in m:
            code = m.split(":", 1)[0]
            assert code == expected if expected else re.fullmatch(r"[A-Z_]+", code), m


@pytest.mark.parametrize("name", list(VALID))
def test_valid_change_sets_pass_both_tools(
        name: str, setup: dict[str, Any], emulator_verdicts: dict[str, list[str]]) -> None:
    changes = base()
    VALID[name](changes)
    assert listing_check(_request(changes), setup, existing=False) == []
    assert emulator_verdicts[f"valid {name}"] == []


def test_a_valid_update_and_restriction_of_an_existing_version_pass_both_tools(
        setup: dict[str, Any]) -> None:
    ids = setup["ids"]
    changes = _update(ids, _update_option(ids, RepositoryUrl="https://github.com/example/v2",
                                          RecommendedInstanceTypes={
                                              "RealtimeInference": "ml.c5.xlarge"}))
    changes += _on_product(ids, "RestrictDeliveryOptions", {"DeliveryOptionIds": [ids["option"]]})
    body = _request(changes)
    assert listing_check(body, setup, existing=True) == []
    started = setup["client"].start_change_set(**body)
    assert wait_change_set(setup["client"], started["ChangeSetId"])["Status"] == "SUCCEEDED"


def test_every_rule_has_a_case() -> None:
    covered = {c.rule for c in CASES}
    missing = sorted({r.id for r in all_rules()} - covered)
    assert not missing, f"rules without a case in test_rules.py: {missing}"
    unknown = sorted(covered - {r.id for r in all_rules()})
    assert not unknown, f"cases for rules the rule set does not have: {unknown}"


def test_the_issue_16_listing_gets_every_problem_reported_at_once(setup: dict[str, Any]) -> None:
    """The three published reasons AWS refused the starter listing, in one change set."""
    changes = base()
    both(S("UpdateInformation", "SearchKeywords", []), opt_del("RepositoryUrl"),
         opt("InputProperties.Limitations", ""),
         opt("InputProperties.Parameters[0].Constraints", ""))(changes)
    rules = {RULE_IN.search(m).group(1)  # type: ignore[union-attr]
             for m in listing_check(_request(changes), setup, existing=False)}
    assert rules == {
        "Product.UpdateInformation.SearchKeywords.min_items",
        f"{O_OPT}RepositoryUrl.required",
        "Shape.DeliveryOption.InputProperties.Limitations.min_length",
        "Shape.Parameter.Constraints.min_length",
    }


def test_json_details_and_a_details_document_are_checked_alike(setup: dict[str, Any]) -> None:
    changes = base()[:2]
    changes[1]["DetailsDocument"]["ProductTitle"] = "T" * 73
    as_json = copy.deepcopy(changes)
    as_json[1]["Details"] = json.dumps(as_json[1].pop("DetailsDocument"))
    started = setup["client"].start_change_set(Catalog="AWSMarketplace", ChangeSet=as_json,
                                               Intent="VALIDATE")
    final = wait_change_set(setup["client"], started["ChangeSetId"])
    [error] = final["ChangeSet"][1]["ErrorDetailList"]
    assert error["ErrorCode"] == "INVALID_INPUT"
    assert "[rule Product.UpdateInformation.ProductTitle.max_length]" in error["ErrorMessage"]
    assert any("ProductTitle.max_length" in m
               for m in listing_check(_request(changes), setup, existing=False))
    assert uuid.UUID(setup["ids"]["option"])


@pytest.mark.parametrize("mutate", [
    S("AddDeliveryOptions", "Version", "1.0"),
    S("AddDeliveryOptions", "DeliveryOptions", ["option"]),
    opt("InputProperties", "four numbers"),
    O("UpdatePricingTerms", "Terms", ["UsageBasedPricingTerm"]),
    term(0, "RateCards", [["ml.m5.large.m.i.r", "0.50"]]),
    term(1, "Grants", ["ml.m5.large.m.i.r"]),
    O("UpdateLegalTerms", "Terms[0].Documents", ["StandardEula"]),
    S("UpdateInformation", "AdditionalResources", ["https://example.com/docs"]),
], ids=["Version", "DeliveryOptions[]", "InputProperties", "Terms[]", "RateCards[]",
        "Grants[]", "Documents[]", "AdditionalResources[]"])
def test_a_value_of_the_wrong_json_type_is_the_type_rule_in_both_tools(
        mutate: Mutate, setup: dict[str, Any]) -> None:
    # The schemas type every field (ML and OFFER): an object where one is expected.
    changes = base()
    mutate(changes)
    body = _request(changes)
    assert any("[rule Details.Any.Any.type]" in m
               for m in listing_check(body, setup, existing=False))
    started = setup["client"].start_change_set(**body)
    final = wait_change_set(setup["client"], started["ChangeSetId"])
    assert final["Status"] == "FAILED"
    assert any("[rule Details.Any.Any.type]" in e["ErrorMessage"]
               for change in final["ChangeSet"] for e in change["ErrorDetailList"])


def test_each_case_names_the_document_its_rule_cites() -> None:
    names = {ML: "MachineLearningProduct@1.0 change-type schema",
             OFFER: "Offer@1.0 change-type schema (appendix shapes)",
             ML_API: "Catalog API reference, Work with ML products",
             BOTO: "botocore marketplace-catalog service model (StartChangeSet)",
             GUIDE: "AWS Marketplace seller guide (shared/docs/marketplace.md)"}
    cited = {r.id: r.source for r in all_rules()}
    wrong = [(c.rule, c.source, cited[c.rule]) for c in CASES if names[c.source] != cited[c.rule]]
    assert not wrong
