"""The field rules of every change type, as data: AWS's published change-type shapes.

Facts come from the JSON schemas of ``MachineLearningProduct@1.0`` and ``Offer@1.0`` (as the
awslabs/aws-marketplace-catalog-api-shapes-for-python models give them), the Catalog API
reference pages for ML products, and the seller guide. Where two of them disagree the stricter
one is used; docs/listing.md lists those choices.
"""

from __future__ import annotations

import re

from smkit.core import arns
from smkit.listing.rules.engine import ASSET, ChangeRules, FieldSpec, Named

F = FieldSpec
ML = "MachineLearningProduct@1.0 change-type schema"
OFFER = "Offer@1.0 change-type schema (appendix shapes)"
ML_API = "Catalog API reference, Work with ML products"
GUIDE = "AWS Marketplace seller guide (shared/docs/marketplace.md)"

NOT_BLANK = Named(r"^\S+[\S\s]*", "text starting with a non-space character")
NOT_BLANK_END = Named(r"^\S+[\S\s]*$", "text starting with a non-space character")
HTTPS = Named(r"^https:\/\/(www\.)?[-a-zA-Z0-9@._]{1,256}\.[a-zA-Z0-9()]{2,63}\b"
              r"([-a-zA-Z0-9@_+.\/]*)", "an https URL with a real host name")
HTTP_OR_HTTPS = Named(r"^https?:\/\/(www\.)?[-a-zA-Z0-9@:%._+~#=]{1,256}\.[a-zA-Z0-9()]{2,63}"
                      r"\b([-a-zA-Z0-9()@:%_+.~#?&\/=, ]*)$",
                      "an http or https URL with a real host name")
PRINTABLE = Named(r"^[ -~]+", "printable ASCII")
INSTANCE = Named(r"^\S{1,24}$", "an instance type (1-24 characters, no spaces)")
# The Catalog's own ARN patterns: the commercial partition, and an access role with no path.
PACKAGE_ARN = Named(arns.CATALOG_PACKAGE_ARN, "a SageMaker model package ARN")
ROLE_ARN = Named(arns.CATALOG_ROLE_ARN,
                 "an IAM role ARN (arn:aws:iam::<account>:role/<name>), not a role name")
UUID = Named(r"([a-f0-9]{8}(-[a-f0-9]{4}){4}[a-f0-9]{8})", "a delivery option Id (a UUID)")
PRODUCT_ID = Named(r"^(prod-[a-zA-Z0-9]{13})|(prod-[a-zA-Z0-9]{25})|([0-9a-f]{8}-[0-9a-f]{4}"
                   r"-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$", "a product ID")
OFFER_PRODUCT = Named(r"^[a-zA-Z0-9][.a-zA-Z0-9\/-]+[a-zA-Z0-9]$", "a product ID or reference")
ACCOUNT = Named(r"^\d{12}$", "a 12-digit AWS account ID")
#: At most 100,000,000 and at most 8 decimals.
PRICE = Named(r"^((100000000(\.0{0,8})?)|(\d{1,8}(\.\d{0,8})?))$",
              "a price of at most 100000000 with at most 8 decimals")
DURATION = Named(r"^P(?=.)(\d+Y)?(\d+M)?(\d+D)?$", "an ISO 8601 duration such as P14D")
DATE = Named(r"^([1-9]\d{3}-((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|"
             r"(0[13578]|1[02])-31)|([1-9]\d(0[48]|[2468][048]|[13579][26])|([2468][048]|"
             r"[13579][26])00)-02-29)$", "a date YYYY-MM-DD")
REFUND_CHARS = Named("^[\\u0000-\\u007E\\u00A9\\u00AE\\u2122\\u00A2-\\u00A5]+$",
                     "ASCII (plus the symbols (c) (R) TM and currency signs)")
#: ``<instance>.m.i.r`` real-time, ``<instance>.m.i.b`` batch, ``m.i.c`` per inference.
DIMENSION = Named(r"^(ml\.[a-z0-9-]+\.[a-z0-9]+\.m\.i\.[rb]|m\.i\.c)$",
                  "an ML pricing dimension: <instance>.m.i.r, <instance>.m.i.b or m.i.c")

CURRENCIES = ("USD", "EUR", "GBP", "AUD", "JPY", "CAD")
FREE_TRIAL_MIN_DAYS, FREE_TRIAL_MAX_DAYS = 5, 120
DURATION_DAYS = re.compile(r"^P(\d+)D$")


def _trial_days(value: str) -> str | None:
    m = DURATION_DAYS.match(value)
    days = int(m.group(1)) if m else None
    if days is None or not FREE_TRIAL_MIN_DAYS <= days <= FREE_TRIAL_MAX_DAYS:
        return (f"must be P{FREE_TRIAL_MIN_DAYS}D to P{FREE_TRIAL_MAX_DAYS}D (days), "
                f"got {value!r}")
    return None


def _sample(prefix: str) -> list[FieldSpec]:
    return [
        F(f"{prefix}.{name}", str, ML, shape=("Sample", name), **limits)
        for name, limits in (
            ("RealtimeInferenceText", {"min_len": 1, "max_len": 10000}),
            ("BatchTransformText", {"min_len": 1, "max_len": 10000}),
            ("RealtimeInferenceUrl", {"max_len": 10000, "url": HTTPS}),
            ("BatchTransformUrl", {"max_len": 10000, "url": HTTPS}),
        )
    ]


def _parameters(prefix: str, output: bool = False) -> list[FieldSpec]:
    specs = [
        F(f"{prefix}", list, ML, max_items=35, shape=("Parameters", "List")),
        F(f"{prefix}[]", dict, ML),
        F(f"{prefix}[].Name", str, ML, min_len=1, max_len=100, pattern=PRINTABLE,
          shape=("Parameter", "Name")),
        F(f"{prefix}[].Description", str, ML, min_len=1, max_len=1000,
          shape=("Parameter", "Description")),
    ]
    if output:
        specs.append(F(f"{prefix}[].AlwaysReturned", bool, ML))
    else:
        specs += [F(f"{prefix}[].Constraints", str, ML, min_len=1, max_len=1500,
                    shape=("Parameter", "Constraints")),
                  F(f"{prefix}[].Required", bool, ML)]
    return specs


def _package_option(prefix: str, *, adding: bool) -> list[FieldSpec]:
    """The SageMaker model package delivery option (AddDeliveryOptions or UpdateDeliveryOptions).

    Its field limits are one shape, ``DeliveryOption``, in both change types; only
    AddDeliveryOptions requires the fields and takes the ARNs.
    """
    o = f"{prefix}.SageMakerModelPackageDeliveryOptionDetails"

    def shared(rel: str, kind: type, **limits: object) -> FieldSpec:
        return F(f"{o}.{rel}", kind, ML, shape=("DeliveryOption", rel), **limits)  # type: ignore[arg-type]

    specs = [
        F(o, dict, ML),
        shared("UsageInstructions", str, max_len=10000),
        shared("SampleNotebookUrl", str, max_len=2000, url=HTTPS),
        shared("RepositoryUrl", str, max_len=2000, url=HTTPS),
        F(f"{o}.InputProperties", dict, ML),
        shared("InputProperties.Description", str, min_len=1, max_len=10000),
        shared("InputProperties.Limitations", str, min_len=1, max_len=1000),
        *_sample(f"{o}.InputProperties.SampleInput"),
        *_parameters(f"{o}.InputProperties.Parameters"),
        *_parameters(f"{o}.InputProperties.SageMakerCustomAttributes"),
        F(f"{o}.OutputProperties", dict, ML),
        shared("OutputProperties.Description", str, min_len=1, max_len=10000),
        *_sample(f"{o}.OutputProperties.SampleOutput"),
        *_parameters(f"{o}.OutputProperties.Parameters", output=True),
        F(f"{o}.RecommendedInstanceTypes", dict, ML),
        shared("RecommendedInstanceTypes.RealtimeInference", str, max_len=24, pattern=INSTANCE),
        shared("RecommendedInstanceTypes.BatchTransform", str, max_len=24, pattern=INSTANCE),
    ]
    if adding:
        specs += [F(o, dict, ML, required=True)]
        specs += [F(f"{o}.{name}", str, ML, required=True)
                  for name in ("UsageInstructions", "SampleNotebookUrl", "RepositoryUrl")]
        specs += [F(f"{o}.{name}", dict, ML, required=True)
                  for name in ("InputProperties", "OutputProperties", "RecommendedInstanceTypes")]
        specs += [
            F(f"{o}.SageMakerModelPackageArn", str, ML, required=True, pattern=PACKAGE_ARN),
            F(f"{o}.AccessRoleArn", str, ML, required=True, pattern=ROLE_ARN),
        ]
    else:
        # "You cannot update the ARN for a version" (ml-update-version); the schema has no field.
        specs += [F(f"{o}.SageMakerModelPackageArn", str, ML_API, absent=True)]
    return specs


PRODUCT: list[ChangeRules] = [
    ChangeRules("Product", "CreateProduct", [
        F("ProductTitle", str, ML, max_len=72, pattern=NOT_BLANK),
    ]),
    ChangeRules("Product", "UpdateInformation", [
        F("ProductTitle", str, ML, max_len=72, pattern=NOT_BLANK),
        F("ShortDescription", str, ML, max_len=1000, pattern=NOT_BLANK),
        F("LongDescription", str, ML, max_len=5000, pattern=NOT_BLANK),
        F("Sku", str, ML, max_len=5000, pattern=NOT_BLANK),
        F("LogoUrl", str, ML, url=HTTPS),
        F("VideoUrls", list, ML, max_items=1),
        # The schema gives video URLs no form; smkit holds them to the logo's rule (stricter).
        F("VideoUrls[]", str, GUIDE, url=HTTPS),
        F("Highlights", list, ML, min_items=1, max_items=3),
        F("Highlights[]", str, ML, max_len=500),
        F("AdditionalResources", list, ML, max_items=3),
        F("AdditionalResources[]", dict, ML),
        F("AdditionalResources[].Text", str, ML, required=True, max_len=500, pattern=NOT_BLANK),
        F("AdditionalResources[].Url", str, ML, required=True, url=HTTP_OR_HTTPS),
        F("SupportDescription", str, ML, max_len=2000, pattern=NOT_BLANK),
        F("Categories", list, ML, min_items=1, max_items=3),
        F("Categories[]", str, ML),
        F("AssociatedProducts", list, ML, absent=True),
        F("SearchKeywords", list, ML, min_items=1, max_items=15),
        F("SearchKeywords[]", str, ML, max_len=50),
    ]),
    ChangeRules("Product", "AddDeliveryOptions", [
        F("Version", dict, ML, required=True),
        F("Version.VersionTitle", str, ML, required=True, max_len=64, pattern=NOT_BLANK),
        F("Version.ReleaseNotes", str, ML, required=True, max_len=30000, pattern=NOT_BLANK),
        # "For ML products, a version consists of a single delivery option" (ml-add-version).
        F("DeliveryOptions", list, ML_API, required=True, min_items=1, max_items=1),
        F("DeliveryOptions[]", dict, ML),
        F("DeliveryOptions[].Details", dict, ML, required=True),
        *_package_option("DeliveryOptions[].Details", adding=True),
    ]),
    ChangeRules("Product", "UpdateDeliveryOptions", [
        # The schema makes Version optional; ml-update-version lists Version and VersionTitle
        # as required: the stricter reading is used.
        F("Version", dict, ML_API, required=True),
        F("Version.VersionTitle", str, ML_API, required=True),
        F("Version.VersionTitle", str, ML, max_len=64, pattern=NOT_BLANK),
        F("Version.ReleaseNotes", str, ML, max_len=30000, pattern=NOT_BLANK),
        F("DeliveryOptions", list, ML, required=True, min_items=1, max_items=1),
        F("DeliveryOptions[]", dict, ML),
        F("DeliveryOptions[].Id", str, ML, required=True, max_len=36, pattern=UUID),
        F("DeliveryOptions[].Details", dict, ML),
        *_package_option("DeliveryOptions[].Details", adding=False),
    ]),
    ChangeRules("Product", "RestrictDeliveryOptions", [
        F("DeliveryOptionIds", list, ML, required=True, min_items=1, max_items=50),
        F("DeliveryOptionIds[]", str, ML, max_len=36),
    ]),
    ChangeRules("Product", "UpdateTargeting", [
        F("PositiveTargeting", dict, ML, required=True),
        F("PositiveTargeting.BuyerAccounts", list, ML, required=True, max_items=100),
        F("PositiveTargeting.BuyerAccounts[]", str, GUIDE, pattern=ACCOUNT),
    ]),
    ChangeRules("Product", "UpdateVisibility", [
        F("TargetVisibility", str, ML, required=True, enum=("Public", "Restricted", "Limited")),
        F("ReplacementProductId", str, ML, pattern=PRODUCT_ID),
    ]),
    ChangeRules("Product", "ReleaseProduct", []),
]

OFFER_RULES: list[ChangeRules] = [
    ChangeRules("Offer", "CreateOffer", [
        F("ProductId", str, OFFER, required=True, max_len=50, pattern=OFFER_PRODUCT),
        F("Name", str, OFFER, max_len=150, pattern=NOT_BLANK_END),
    ]),
    ChangeRules("Offer", "UpdateInformation", [
        F("Name", str, OFFER, max_len=150, pattern=NOT_BLANK_END),
        F("Description", str, OFFER, max_len=255, pattern=NOT_BLANK_END),
    ]),
    ChangeRules("Offer", "UpdatePricingTerms", [
        # The schema allows Byol and Contract too; ML products are free or usage-priced.
        F("PricingModel", str, OFFER, required=True),
        F("PricingModel", str, GUIDE, enum=("Usage", "Free")),
        F("Terms", list, OFFER, required=True, min_items=1),
        F("Terms[]", dict, OFFER),
        F("Terms[].Type", str, OFFER, required=True),
        F("Terms[].Type", str, GUIDE, enum=("UsageBasedPricingTerm", "FreeTrialPricingTerm")),
        F("Terms[].CurrencyCode", str, OFFER, enum=CURRENCIES),
        # Exactly one rate card in a usage-based term.
        F("Terms[].RateCards", list, OFFER, min_items=1, max_items=1),
        F("Terms[].RateCards[]", dict, OFFER),
        F("Terms[].RateCards[].RateCard[]", dict, OFFER),
        F("Terms[].RateCards[].RateCard", list, OFFER, required=True, min_items=1,
          max_items=800),
        F("Terms[].RateCards[].RateCard[].DimensionKey", str, OFFER, required=True, min_len=1,
          max_len=100),
        F("Terms[].RateCards[].RateCard[].DimensionKey", str, GUIDE, pattern=DIMENSION),
        F("Terms[].RateCards[].RateCard[].Price", str, OFFER, required=True, pattern=PRICE),
        F("Terms[].Duration", str, OFFER, pattern=DURATION),
        F("Terms[].Duration", str, GUIDE,
          custom=("trial_days", (FREE_TRIAL_MIN_DAYS, FREE_TRIAL_MAX_DAYS), _trial_days)),
        F("Terms[].Grants", list, OFFER, min_items=1, max_items=800),
        F("Terms[].Grants[]", dict, OFFER),
        F("Terms[].Grants[].DimensionKey", str, OFFER, required=True, min_len=1, max_len=100),
    ]),
    ChangeRules("Offer", "UpdateLegalTerms", [
        F("Terms", list, OFFER, required=True, min_items=1, max_items=1),
        F("Terms[]", dict, OFFER),
        F("Terms[].Type", str, OFFER, required=True, enum=("LegalTerm",)),
        F("Terms[].Documents", list, OFFER, required=True, min_items=1, max_items=1),
        F("Terms[].Documents[]", dict, OFFER),
        F("Terms[].Documents[].Type", str, OFFER, required=True,
          enum=("CustomEula", "StandardEula", "CustomDsa", "StandardDsa")),
        # The schema allows http; the seller guide wants the EULA at a public https location.
        F("Terms[].Documents[].Url", str, OFFER, max_len=32000),
        F("Terms[].Documents[].Url", str, GUIDE, url=HTTPS),
        F("Terms[].Documents[].Version", str, OFFER,
          enum=("2019-04-24", "2022-07-14", "2019-12-12")),
    ]),
    ChangeRules("Offer", "UpdateSupportTerms", [
        F("Terms", list, OFFER, required=True, max_items=1),
        F("Terms[]", dict, OFFER),
        F("Terms[].Type", str, OFFER, required=True, enum=("SupportTerm",)),
        F("Terms[].RefundPolicy", str, OFFER, required=True, min_len=1, max_len=500,
          charset=REFUND_CHARS),
    ]),
    ChangeRules("Offer", "UpdateAvailability", [
        F("AvailabilityEndDate", str, OFFER, required=True, pattern=DATE),
    ]),
    ChangeRules("Offer", "ReleaseOffer", []),
]

#: Change type -> its rules, per entity type.
BY_ENTITY: dict[str, dict[str, ChangeRules]] = {
    "MachineLearningProduct@1.0": {c.change: c for c in PRODUCT},
    "Offer@1.0": {c.change: c for c in OFFER_RULES},
}

__all__ = ["ASSET", "BY_ENTITY"]
