"""The typed ``listing.yaml``: everything an AWS Marketplace ML listing needs, validated.

Every documented Catalog API limit is enforced here; a violation names the field, the limit
and the actual length. ``load_listing`` turns any problem (bad YAML, wrong types, limits) into
one ``UserError`` listing every failing field, so the CLI never shows a traceback.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import UserError
from . import limits

FORMAT = "smkit-listing/1"
#: What ``listing init`` writes where only the seller can fill in the text.
PLACEHOLDER = "TODO"

_ARN_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_ARN_PACKAGE = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[\w/-]+$"
)
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _text(field: str, value: str, limit: int) -> str:
    """Reject text longer than the Catalog API allows, naming field, limit and length."""
    if len(value) > limit:
        raise ValueError(f"{field} allows at most {limit} characters, got {len(value)}")
    return value


def _https(field: str, value: str) -> str:
    """Marketplace fetches links and assets over https only."""
    if not value.startswith("https://") or len(value) <= len("https://"):
        raise ValueError(f"{field} must be an https:// URL, got {value!r}")
    return value


def _count(field: str, items: list[Any], lo: int, hi: int) -> list[Any]:
    """Reject lists with too few or too many items."""
    if not lo <= len(items) <= hi:
        want = f"at most {hi}" if lo == 0 else f"{lo} to {hi}"
        raise ValueError(f"{field} takes {want} items, got {len(items)}")
    return items


class _Strict(BaseModel):
    # YAML turns `version_title: 1.0` or `ml.m5.large: 0.50` into numbers; accept them as text.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True,
                              coerce_numbers_to_str=True)


class Resource(_Strict):
    """A link shown under "Additional resources"."""

    text: str = Field(min_length=1)
    url: str

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _https("AdditionalResources.Url", v)


#: listing.yaml field -> the Catalog API name its limit is documented under.
_TEXT_FIELDS = {
    "title": "ProductTitle",
    "short_description": "ShortDescription",
    "long_description": "LongDescription",
}


class Product(_Strict):
    """The product page text (Catalog ``UpdateInformation``)."""

    title: str = Field(min_length=1)
    short_description: str = Field(min_length=1)
    long_description: str = Field(min_length=1)
    highlights: list[str]
    categories: list[str]
    keywords: list[str] = []
    logo_url: str
    video_urls: list[str] = []
    additional_resources: list[Resource] = []
    sku: str | None = None

    @field_validator("title", "short_description", "long_description")
    @classmethod
    def _texts(cls, v: str, info: ValidationInfo) -> str:
        api_name = _TEXT_FIELDS[str(info.field_name)]
        return _text(api_name, v, limits.TEXT_MAX[api_name])

    @field_validator("highlights")
    @classmethod
    def _highlights(cls, v: list[str]) -> list[str]:
        _count("Highlights", v, limits.HIGHLIGHTS_MIN, limits.HIGHLIGHTS_MAX)
        for i, h in enumerate(v):
            _text(f"Highlights[{i}]", h, limits.HIGHLIGHT_MAX_CHARS)
        return v

    @field_validator("categories")
    @classmethod
    def _categories(cls, v: list[str]) -> list[str]:
        return _count("Categories", v, limits.CATEGORIES_MIN, limits.CATEGORIES_MAX)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        _count("SearchKeywords", v, 0, limits.KEYWORDS_MAX)
        for i, k in enumerate(v):
            _text(f"SearchKeywords[{i}]", k, limits.KEYWORD_MAX_CHARS)
        return v

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, v: str) -> str:
        return _https("LogoUrl", v)

    @field_validator("video_urls")
    @classmethod
    def _videos(cls, v: list[str]) -> list[str]:
        _count("VideoUrls", v, 0, limits.VIDEO_URLS_MAX)
        return [_https("VideoUrls", u) for u in v]

    @field_validator("additional_resources")
    @classmethod
    def _resources(cls, v: list[Resource]) -> list[Resource]:
        return _count("AdditionalResources", v, 0, limits.ADDITIONAL_RESOURCES_MAX)


class Support(_Strict):
    """Support text and refund policy (``UpdateInformation`` and ``UpdateSupportTerms``)."""

    description: str = Field(min_length=1)
    refund_policy: str = Field(min_length=1)

    @field_validator("description")
    @classmethod
    def _desc(cls, v: str) -> str:
        return _text("SupportDescription", v, limits.TEXT_MAX["SupportDescription"])


class Eula(_Strict):
    """The standard AWS Marketplace contract, or the seller's own EULA at an https URL."""

    type: Literal["standard", "custom"] = "standard"
    url: str | None = None

    @model_validator(mode="after")
    def _url(self) -> Eula:
        if self.type == "custom":
            if not self.url:
                raise ValueError("a custom EULA needs url (https)")
            _https("eula.url", self.url)
        elif self.url:
            raise ValueError("url is only for type: custom")
        return self


class TrainingData(_Strict):
    """Where the training data came from, how much of it, and what the model cannot do."""

    source: str = Field(min_length=1)
    size: str = Field(min_length=1)
    limitations: str = Field(min_length=1)


class Accuracy(_Strict):
    """A metric measured on validation data."""

    metric: str = Field(min_length=1)
    value: float
    dataset: str = Field(min_length=1)
    measured_by: str = "seller"


class Performance(_Strict):
    """Latency and throughput, and where they were measured."""

    instance_type: str
    latency_ms_p50: float = Field(gt=0)
    latency_ms_p95: float = Field(gt=0)
    throughput_per_s: float = Field(gt=0)
    measured_on: str = Field(min_length=1)


class Param(_Strict):
    """An input parameter or SageMaker custom attribute the buyer can pass."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    constraints: str = ""
    required: bool = False


class OutputParam(_Strict):
    """A field of the model's answer."""

    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    always_returned: bool = True


class InputSpec(_Strict):
    """What the buyer sends; ``sample_file`` is produced by ``listing init``, not typed."""

    description: str = Field(min_length=1)
    limitations: str = ""
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


InstanceType = Annotated[str, Field(pattern=_INSTANCE.pattern)]


class InstanceTypes(_Strict):
    """Instance types, separately for real-time endpoints and batch transform."""

    realtime: list[InstanceType] = Field(min_length=1)
    batch: list[InstanceType] = Field(min_length=1)


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
    repository_url: str | None = None
    supported_instance_types: InstanceTypes
    recommended_instance_types: Recommended
    #: What the model package's container reports: must agree with the pricing model.
    metering: Literal["none", "per-inference"] = "none"
    input: InputSpec
    output: OutputSpec

    @field_validator("model_package_arn")
    @classmethod
    def _package(cls, v: str) -> str:
        if not _ARN_PACKAGE.match(v):
            raise ValueError(f"must be a SageMaker model package ARN, got {v!r}")
        return v

    @field_validator("access_role_arn")
    @classmethod
    def _role(cls, v: str) -> str:
        if not _ARN_ROLE.match(v):
            raise ValueError(
                f"must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), not a role "
                f"name; got {v!r}"
            )
        return v

    @field_validator("sample_notebook_url", "repository_url")
    @classmethod
    def _urls(cls, v: str | None) -> str | None:
        return None if v is None else _https("URL", v)

    @model_validator(mode="after")
    def _recommended_supported(self) -> Delivery:
        rec, sup = self.recommended_instance_types, self.supported_instance_types
        if rec.realtime not in sup.realtime:
            raise ValueError(
                f"recommended_instance_types.realtime {rec.realtime} is not among "
                f"supported_instance_types.realtime {sup.realtime}"
            )
        if rec.batch not in sup.batch:
            raise ValueError(
                f"recommended_instance_types.batch {rec.batch} is not among "
                f"supported_instance_types.batch {sup.batch}"
            )
        return self


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
        if self.free_trial_days is not None:
            if self.model != "hourly":
                raise ValueError(
                    f"a free trial applies to hourly pricing only, not {self.model}"
                )
            lo, hi = limits.FREE_TRIAL_MIN_DAYS, limits.FREE_TRIAL_MAX_DAYS
            if not lo <= self.free_trial_days <= hi:
                raise ValueError(
                    f"free_trial_days must be {lo} to {hi} days, got {self.free_trial_days}"
                )
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

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        for r in v:
            if not _REGION.match(r):
                raise ValueError(f"{r!r} is not an AWS region name")
        return v

    @model_validator(mode="after")
    def _cross(self) -> Listing:
        d, p = self.delivery, self.pricing
        if self.visibility == "Private":
            if not self.buyer_accounts:
                raise ValueError("a Private listing needs buyer_accounts (12-digit account IDs)")
            bad = [a for a in self.buyer_accounts if not _ACCOUNT.match(a)]
            if bad:
                raise ValueError(f"buyer_accounts must be 12-digit account IDs, got {bad}")
        elif self.buyer_accounts:
            raise ValueError("buyer_accounts is only for visibility: Private")
        long_text = long_description(self)
        if len(long_text) > limits.TEXT_MAX["LongDescription"]:
            raise ValueError(
                "product.long_description: LongDescription (with the model facts smkit appends: "
                f"accuracy, performance, training data) allows at most "
                f"{limits.TEXT_MAX['LongDescription']} characters, got {len(long_text)}"
            )
        rec = d.recommended_instance_types.realtime
        if self.performance.instance_type != rec:
            raise ValueError(
                f"performance.instance_type {self.performance.instance_type} must be the "
                f"recommended real-time instance type {rec}"
            )
        package_region = d.model_package_arn.split(":")[3]
        if package_region not in self.regions:
            raise ValueError(
                f"regions {self.regions} must include {package_region}, where the model "
                "package lives"
            )
        if p.model != "free":
            sup = d.supported_instance_types
            need_rt = [] if p.model == "per-inference" else sup.realtime
            missing = [f"realtime {i}" for i in need_rt if i not in p.realtime]
            missing += [f"batch {i}" for i in sup.batch if i not in p.batch]
            if missing:
                raise ValueError(
                    "every supported instance type must be priced; missing: " + ", ".join(missing)
                )
            extra = [f"realtime {i}" for i in p.realtime if i not in sup.realtime]
            extra += [f"batch {i}" for i in p.batch if i not in sup.batch]
            if extra:
                raise ValueError(
                    "pricing names instance types the model package does not support: "
                    + ", ".join(extra)
                )
        if (p.model == "per-inference") != (d.metering == "per-inference"):
            raise ValueError(
                f"pricing.model is {p.model} but the model package's container metering is "
                f"{d.metering}: per-inference pricing needs SMKIT_METERING=per-inference in the "
                "model package (and only then)"
            )
        return self


def model_facts(listing: Listing) -> str:
    """The accuracy, performance and training-data facts every ML listing must state."""
    a, perf, t = listing.accuracy, listing.performance, listing.training_data
    return (
        "Model facts\n"
        f"- {a.metric}: {a.value:.4g} on {a.dataset}\n"
        f"- Latency on {perf.instance_type}: {perf.latency_ms_p50:.1f} ms median, "
        f"{perf.latency_ms_p95:.1f} ms p95 (one record per request); throughput "
        f"{perf.throughput_per_s:.0f} records/s; measured on {perf.measured_on}\n"
        f"- Training data: {t.source} ({t.size})\n"
        f"- Limitations: {t.limitations}"
    )


def long_description(listing: Listing) -> str:
    """The LongDescription sent to the Catalog API: the seller's text, then the model facts."""
    return f"{listing.product.long_description}\n\n{model_facts(listing)}"


def _placeholders(data: Any, path: str = "") -> list[str]:
    """Dotted paths of every string still holding the ``listing init`` placeholder."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _placeholders(v, f"{path}.{k}" if path else k)]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _placeholders(v, f"{path}[{i}]")]
    if isinstance(data, str) and PLACEHOLDER in data:
        return [path]
    return []


def format_errors(err: ValidationError) -> list[str]:
    """One line per failing field: ``dotted.path: message``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in e["loc"])
        loc = loc.replace(".[", "[")
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{loc or 'listing'}: {msg}")
    return lines


def parse_listing(data: Any, source: str = "listing.yaml") -> Listing:
    """Validate already-parsed YAML; raise UserError naming every failing field."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    todo = _placeholders(data)
    try:
        listing = Listing.model_validate(data)
    except ValidationError as e:
        problems = format_errors(e)
    else:
        problems = []
    problems += [f"{p}: still holds the {PLACEHOLDER} placeholder from `smkit listing init`"
                 for p in todo]
    if problems:
        raise UserError(f"{source} is not valid:\n  " + "\n  ".join(problems))
    return listing


def load_listing(path: Path) -> Listing:
    """Read and validate ``listing.yaml``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"{path} is not valid YAML: {e}") from None
    return parse_listing(data, str(path))
