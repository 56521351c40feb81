"""Names of the AWS Marketplace Catalog API for ML products: catalog, entity types, dimensions.

The field limits are rules and live, with their sources, in ``smkit.listing.rules``.
"""

from __future__ import annotations

CATALOG = "AWSMarketplace"
PRODUCT_TYPE = "MachineLearningProduct@1.0"
OFFER_TYPE = "Offer@1.0"

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
