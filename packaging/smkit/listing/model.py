"""The typed ``listing.yaml``: everything an AWS Marketplace ML listing needs.

This module checks the file's structure (types, known keys, smkit's own choices such as the
pricing model) and the rules that are smkit's, not AWS's (``listing_rules``). AWS's rules are
checked on the change set the listing turns into, by the shared rule set
(``smkit.listing.rules``, through ``validate``), so ``listing check`` and the Catalog emulator
can never disagree. ``validate.load_listing`` reads the file and reports every problem (this
module's and AWS's) at once as one ``UserError``.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from smkit.core import arns
from smkit.project.instance_types import InstanceTypes

FORMAT = "smkit-listing/1"
#: What ``listing init`` writes where only the seller can fill in the text.
PLACEHOLDER = "TODO"

_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class _Strict(BaseModel):
    # YAML turns `version_title: 1.0` or `ml.m5.large: 0.50` into numbers; accept them as text.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              coerce_numbers_to_str=True)


class Resource(_Strict):
    """A link shown under "Additional resources"."""

    text: str
    url: str


class Product(_Strict):
    """The product page text (Catalog ``UpdateInformation``)."""

    title: str
    short_description: str
    long_description: str
    highlights: list[str]
    categories: list[str]
    keywords: list[str] = []
    logo_url: str
    video_urls: list[str] = []
    additional_resources: list[Resource] = []
    sku: str | None = None


class Support(_Strict):
    """Support text and refund policy (``UpdateInformation`` and ``UpdateSupportTerms``)."""

    description: str
    refund_policy: str


class Eula(_Strict):
    """The standard AWS Marketplace contract, or the seller's own EULA at an https URL."""

    type: Literal["standard", "custom"] = "standard"
    url: str | None = None

    @model_validator(mode="after")
    def _url(self) -> Eula:
        if self.type == "custom":
            if not self.url:
                raise ValueError("a custom EULA needs url (https)")
        elif self.url:
            raise ValueError("url is only for type: custom")
        return self


class TrainingData(_Strict):
    """Where the training data came from, how much of it, and what the model cannot do."""

    source: str = Field(min_length=1)
    size: str = Field(min_length=1)
    limitations: str = Field(min_length=1)


class Accuracy(_Strict):
    """A metric measured on validation data: what, on which data, by whom and when."""

    metric: str = Field(min_length=1)
    value: float
    dataset: str = Field(min_length=1)
    measured_at: datetime.date
    measured_by: str = "the seller"


class Performance(_Strict):
    """Latency and throughput of the recommended real-time instance type: where, by whom and
    when they were measured (``measured_on`` names the machine, e.g. "an ml.m5.large endpoint"
    or "local Docker limited to ml.m5.large's 2 vCPUs and 8 GiB")."""

    instance_type: str
    latency_ms_p50: float = Field(gt=0)
    latency_ms_p95: float = Field(gt=0)
    throughput_per_s: float = Field(gt=0)
    #: Records/s of one instance's batch transform (mini-batches as SageMaker sends them);
    #: None when not measured (a JSON-only product's bodies are not line-delimited).
    batch_throughput_per_s: float | None = Field(default=None, gt=0)
    measured_on: str = Field(min_length=1)
    measured_at: datetime.date
    measured_by: str = "the seller"


class Param(_Strict):
    """An input parameter or SageMaker custom attribute the buyer can pass."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    #: Optional; AWS refuses an empty one, so leave it out rather than write "".
    constraints: str | None = None
    required: bool = False


class OutputParam(_Strict):
    """A field of the model's answer."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    always_returned: bool = True


class InputSpec(_Strict):
    """What the buyer sends; ``sample_file`` is produced by ``listing init``, not typed."""

    description: str = Field(min_length=1)
    #: Optional; AWS refuses an empty one, so leave it out rather than write "".
    limitations: str | None = None
    content_types: list[str] = Field(min_length=1)
    sample_file: str
    parameters: list[Param] = []
    custom_attributes: list[Param] = []


class OutputSpec(_Strict):
    """What the model answers; ``sample_file`` comes from running the model on the sample."""

    description: str = Field(min_length=1)
    content_types: list[str] = Field(min_length=1)
    sample_file: str
    parameters: list[OutputParam] = []


# Stripped here too: InstanceTypes is the project's model, without this file's str settings.
InstanceType = Annotated[str, StringConstraints(strip_whitespace=True,
                                                pattern=_INSTANCE.pattern)]


class Recommended(_Strict):
    """The instance type the listing recommends for each mode."""

    realtime: InstanceType
    batch: InstanceType


class Delivery(_Strict):
    """The model package version (Catalog ``AddDeliveryOptions``)."""

    model_package_arn: str
    access_role_arn: str
    version_title: str = Field(min_length=1)
    release_notes: str = Field(min_length=1)
    usage_instructions: str = Field(min_length=1)
    sample_notebook_url: str
    #: Required by AWS; ``listing check`` says so when it is missing.
    repository_url: str | None = None
    supported_instance_types: InstanceTypes[InstanceType, InstanceType]
    recommended_instance_types: Recommended
    #: What the model package's container reports: must agree with the pricing model.
    metering: Literal["none", "per-inference"] = "none"
    input: InputSpec
    output: OutputSpec


def _plain_decimal(value: str) -> str:
    """``1e-05`` -> ``0.00001``: the Catalog API takes prices in plain notation."""
    try:
        return format(Decimal(value), "f")
    except InvalidOperation:
        return value  # reported with the field name by Pricing's validator


Price = Annotated[str, Field(min_length=1), AfterValidator(_plain_decimal)]


def _price(field: str, value: str) -> Decimal:
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{field} must be a decimal number of USD, got {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{field} must be a non-negative amount, got {value!r}")
    return d


class Pricing(_Strict):
    """Free, hourly per instance type (real-time and batch), or per inference (real-time)."""

    model: Literal["free", "hourly", "per-inference"]
    currency: Literal["USD"] = "USD"
    #: Hourly USD per real-time instance type (``hourly`` only).
    realtime: dict[str, Price] = {}
    #: Hourly USD per batch instance type (``hourly`` and ``per-inference``: batch is hourly).
    batch: dict[str, Price] = {}
    #: USD per inference (one record) on real-time endpoints (``per-inference`` only).
    per_inference: Price | None = None
    free_trial_days: int | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Pricing:
        for kind, table in (("realtime", self.realtime), ("batch", self.batch)):
            for it, p in table.items():
                if not _INSTANCE.match(it):
                    raise ValueError(f"pricing.{kind}: {it!r} is not an ml.* instance type")
                _price(f"pricing.{kind}.{it}", p)
        if self.model == "free":
            if self.realtime or self.batch or self.per_inference:
                raise ValueError("free pricing takes no prices")
        elif self.model == "hourly":
            if self.per_inference is not None:
                raise ValueError("per_inference is only for model: per-inference")
        else:
            if self.per_inference is None:
                raise ValueError("per-inference pricing needs per_inference (USD per record)")
            _price("pricing.per_inference", self.per_inference)
            if self.realtime:
                raise ValueError(
                    "per-inference pricing covers real-time endpoints; remove pricing.realtime "
                    "(batch transform stays hourly: price it under pricing.batch)"
                )
        if self.free_trial_days is not None and self.model != "hourly":
            raise ValueError(f"a free trial applies to hourly pricing only, not {self.model}")
        return self


class Listing(_Strict):
    """A whole ``listing.yaml``."""

    format: Literal["smkit-listing/1"] = "smkit-listing/1"
    product: Product
    support: Support
    eula: Eula = Eula()
    training_data: TrainingData
    accuracy: Accuracy
    performance: Performance
    delivery: Delivery
    pricing: Pricing
    regions: list[str] = Field(min_length=1)
    visibility: Literal["Public", "Private"] = "Public"
    #: AWS accounts that may see a Private listing.
    buyer_accounts: list[str] = []
    #: Set after the first APPLY so later publishes update the same entities.
    product_id: str | None = None
    offer_id: str | None = None


#: A path on the seller's machine (home, temporary or a drive letter): a buyer cannot open it.
_LOCAL_PATH = re.compile(r"(?:^|[\s(\"'=])(?:~/|/(?:home|Users|tmp|root|mnt)/|[A-Za-z]:\\)")
#: A data file's name. A measured figure says what it was measured on, not which local file.
_DATA_FILE = re.compile(r"\b[\w.-]+\.(?:csv|tsv|jsonl?|npy|npz|parquet|feather|pkl|pickle|"
                        r"joblib|skops|xlsx?)\b", re.IGNORECASE)


def _strings(data: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in ``data`` with its dotted path."""
    if isinstance(data, dict):
        return [x for k, v in data.items() for x in _strings(v, f"{path}.{k}" if path else k)]
    if isinstance(data, list):
        return [x for i, v in enumerate(data) for x in _strings(v, f"{path}[{i}]")]
    return [(path, data)] if isinstance(data, str) else []


def local_file_problems(listing: Listing) -> list[str]:
    """Paths on the seller's machine anywhere, and data file names in the measured facts."""
    out = [f"{where}: {value!r} holds a path on your machine ({m.group().strip()}...); a buyer "
           "cannot open it: describe the data instead, or link to it at an https URL"
           for where, value in _strings(listing.model_dump(mode="json"))
           if (m := _LOCAL_PATH.search(value)) is not None]
    facts = {"accuracy.dataset": listing.accuracy.dataset,
             "performance.measured_on": listing.performance.measured_on,
             "training_data.source": listing.training_data.source,
             "training_data.size": listing.training_data.size}
    out += [f"{where}: names the file {m.group()!r}; say what the data is (e.g. \"300 held-out "
            "rows of 2024 claims\"): the buyer never sees your files"
            for where, value in facts.items() if (m := _DATA_FILE.search(value)) is not None]
    return out


def listing_rules(listing: Listing) -> list[str]:
    """smkit's own rules across sections (AWS's are checked on the change set)."""
    d, p, out = listing.delivery, listing.pricing, local_file_problems(listing)
    out += [f"regions: {r!r} is not an AWS region name" for r in listing.regions
            if not _REGION.match(r)]
    if listing.visibility == "Private" and not listing.buyer_accounts:
        out.append("buyer_accounts: a Private listing needs buyer_accounts (12-digit account IDs)")
    if listing.visibility == "Public" and listing.buyer_accounts:
        out.append("buyer_accounts: buyer_accounts is only for visibility: Private")
    rec = d.recommended_instance_types.realtime
    if listing.performance.instance_type != rec:
        out.append(f"performance.instance_type: {listing.performance.instance_type} must be "
                   f"the recommended real-time instance type {rec}")
    parts = arns.split(d.model_package_arn)
    if parts is not None and parts.region not in listing.regions:
        out.append(f"regions: {listing.regions} must include {parts.region}, where the model "
                   "package lives")
    if (p.model == "per-inference") != (d.metering == "per-inference"):
        out.append(f"pricing.model: pricing.model is {p.model} but the model package's "
                   f"container metering is {d.metering}: per-inference pricing needs "
                   "SMKIT_METERING=per-inference in the model package (and only then)")
    return out


def _batch_clause(perf: Performance) -> str:
    """"; batch transform: N records/s per instance" when it was measured."""
    if perf.batch_throughput_per_s is None:
        return ""
    return f"; batch transform: {perf.batch_throughput_per_s:,.0f} records/s per instance"


def model_facts(listing: Listing) -> str:
    """The accuracy, performance and training-data facts every ML listing must state, each
    measured figure with what it measured, where, by whom and when."""
    a, perf, t = listing.accuracy, listing.performance, listing.training_data
    return (
        "Model facts\n"
        f"- {a.metric}: {a.value:.4g} on {a.dataset} ({a.measured_by}, "
        f"{a.measured_at.isoformat()})\n"
        f"- Latency: {perf.latency_ms_p50:.1f} ms median and {perf.latency_ms_p95:.1f} ms p95 "
        f"for one record per request; throughput: {perf.throughput_per_s:,.0f} records/s with "
        f"concurrent requests{_batch_clause(perf)}; measured on {perf.measured_on} "
        f"({perf.measured_by}, "
        f"{perf.measured_at.isoformat()})\n"
        f"- Training data: {t.source} ({t.size})\n"
        f"- Limitations: {t.limitations}"
    )


def long_description(listing: Listing) -> str:
    """The LongDescription sent to the Catalog API: the seller's text, then the model facts."""
    return f"{listing.product.long_description}\n\n{model_facts(listing)}"


def placeholders(data: Any) -> list[str]:
    """Dotted paths of every string still holding the ``listing init`` placeholder."""
    return [where for where, value in _strings(data) if PLACEHOLDER in value]


def format_errors(err: ValidationError) -> list[str]:
    """One line per failing field: ``dotted.path: message``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in e["loc"])
        loc = loc.replace(".[", "[")
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{loc or 'listing'}: {msg}")
    return lines
