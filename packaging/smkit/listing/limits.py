"""The AWS Marketplace Catalog API's documented limits for ML products (shared/docs/marketplace.md).

Both the ``listing.yaml`` model and the Catalog API emulator read them from here, so the two
can never disagree about a number.
"""

from __future__ import annotations

CATALOG = "AWSMarketplace"
PRODUCT_TYPE = "MachineLearningProduct@1.0"
OFFER_TYPE = "Offer@1.0"

#: UpdateInformation limits: field name -> largest character count.
TEXT_MAX: dict[str, int] = {
    "ProductTitle": 72,
    "ShortDescription": 1000,
    "LongDescription": 5000,
    "SupportDescription": 2000,
}
HIGHLIGHTS_MIN, HIGHLIGHTS_MAX, HIGHLIGHT_MAX_CHARS = 1, 3, 500
CATEGORIES_MIN, CATEGORIES_MAX = 1, 3
KEYWORDS_MAX, KEYWORD_MAX_CHARS = 15, 50
VIDEO_URLS_MAX = 1
ADDITIONAL_RESOURCES_MAX = 3

#: A free trial lasts this many days at least / at most (hourly pricing only).
FREE_TRIAL_MIN_DAYS, FREE_TRIAL_MAX_DAYS = 5, 120

#: Pricing dimension key suffixes.
REALTIME_SUFFIX = ".m.i.r"
BATCH_SUFFIX = ".m.i.b"
PER_INFERENCE_KEY = "m.i.c"


def realtime_key(instance_type: str) -> str:
    """The hourly real-time dimension key of an instance type."""
    return f"{instance_type}{REALTIME_SUFFIX}"


def batch_key(instance_type: str) -> str:
    """The hourly batch-transform dimension key of an instance type."""
    return f"{instance_type}{BATCH_SUFFIX}"
