"""Rules that look beyond one field: other fields, the model package, the product so far.

Each rule is a ``Rule`` record plus a small function. The functions read entities in the shape
AWS's DescribeEntity returns (``Versions[].DeliveryOptions[]``, ``Description.Visibility``,
the offer's ``Terms``), through an ``Env`` that the caller provides: the Catalog emulator's
simulated catalog, or the one ``listing check`` builds in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from smkit.core import arns
from smkit.listing.rules.engine import (
    INVALID_INPUT,
    PRICING_REQUIRED,
    RECOMMENDED,
    SYNC,
    Rule,
    Violation,
)
from smkit.listing.rules.shapes import GUIDE, ML, ML_API, OFFER

BOTO = "botocore marketplace-catalog service model (StartChangeSet)"
PRODUCT_TYPE, OFFER_TYPE = "MachineLearningProduct@1.0", "Offer@1.0"
PACKAGE_OPTION = "SageMakerModelPackageDeliveryOptionDetails"
PRICING_TERMS = ("UsageBasedPricingTerm", "FreeTrialPricingTerm")


class PackageLookupError(Exception):
    """SageMaker could not be asked about a model package (as opposed to: it does not exist)."""


#: A model package's DescribeModelPackage answer, or None when there is no such package.
PackageLookup = Callable[[str], dict[str, Any] | None]


@dataclass(frozen=True)
class Context:
    """Who is selling, where, and how to read model packages (None: not checked)."""

    seller_account: str | None = None
    region: str | None = None
    lookup: PackageLookup | None = None


class Env(Protocol):
    """What the cross-field rules may read."""

    ctx: Context

    def package(self, arn: str) -> dict[str, Any] | None:
        """DescribeModelPackage of ``arn`` (None: unknown); raise PackageLookupError."""

    def entity(self, identifier: str) -> tuple[str, dict[str, Any]] | None:
        """(entity type, DescribeEntity details) of an entity or ``$Name`` reference."""


def _r(scope: str, change: str, path: str, kind: str, limit: Any, code: str,
       source: str) -> Rule:
    return Rule(scope, change, path, kind, limit, code, source)


# ----------------------------------------------------------------------------- StartChangeSet

CHANGES_MIN = _r("StartChangeSet", "Request", "ChangeSet", "min_items", 1, SYNC, BOTO)
CHANGES_MAX = _r("StartChangeSet", "Request", "ChangeSet", "max_items", 20, SYNC, BOTO)
DETAILS_MAX = _r("StartChangeSet", "Request", "ChangeSet[].Details", "max_length", 16384, SYNC,
                 BOTO)
TOKEN_MAX = _r("StartChangeSet", "Request", "ClientRequestToken", "max_length", 64, SYNC, BOTO)
TOKEN_CHARS = _r("StartChangeSet", "Request", "ClientRequestToken", "pattern", "^[!-~]+$", SYNC,
                 BOTO)
NAME_MAX = _r("StartChangeSet", "Request", "ChangeSetName", "max_length", 100, SYNC, BOTO)
NAME_CHARS = _r("StartChangeSet", "Request", "ChangeSetName", "pattern", r"^[\w\s+=.:@-]+$",
                SYNC, BOTO)
#: A field of the wrong JSON type anywhere in a change's details.
TYPE = _r("Details", "Any", "Any", "type", "the schema's type", INVALID_INPUT, ML)


def request_violations(request: dict[str, Any], details_texts: list[str]) -> list[Violation]:
    """The StartChangeSet limits: 1-20 changes, Details <= 16,384, token and name forms."""
    out: list[Violation] = []
    changes = request.get("ChangeSet")
    n = len(changes) if isinstance(changes, list) else 0
    if n < 1:
        out.append(Violation(CHANGES_MIN, "ChangeSet", n,
                             f"takes at least 1 change, got {n}"))
    if n > 20:
        out.append(Violation(CHANGES_MAX, "ChangeSet", n, f"takes at most 20 changes, got {n}"))
    for i, text in enumerate(details_texts):
        if len(text) > 16384:
            out.append(Violation(DETAILS_MAX, f"ChangeSet[{i}].Details", len(text),
                                 f"allows at most 16384 characters, got {len(text)}"))
    token = request.get("ClientRequestToken")
    if isinstance(token, str):
        if len(token) > 64:
            out.append(Violation(TOKEN_MAX, "ClientRequestToken", len(token),
                                 f"allows at most 64 characters, got {len(token)}"))
        if not re.match(r"^[!-~]+$", token):
            out.append(Violation(TOKEN_CHARS, "ClientRequestToken", token,
                                 f"must be printable ASCII without spaces, got {token!r}"))
    name = request.get("ChangeSetName")
    if isinstance(name, str):
        if len(name) > 100:
            out.append(Violation(NAME_MAX, "ChangeSetName", len(name),
                                 f"allows at most 100 characters, got {len(name)}"))
        if not re.match(r"^[\w\s+=.:@-]+$", name):
            out.append(Violation(NAME_CHARS, "ChangeSetName", name,
                                 f"takes letters, digits, spaces and _+=.:@- only, got {name!r}"))
    return out


# ----------------------------------------------------------------------------- the product

P = "Product"
VERSION_UNIQUE = _r(P, "AddDeliveryOptions", "Version.VersionTitle", "unique", "per product",
                    INVALID_INPUT, ML_API)
PKG_EXISTS = _r(P, "AddDeliveryOptions", f"{PACKAGE_OPTION}.SageMakerModelPackageArn", "exists",
                True, INVALID_INPUT, ML_API)
PKG_CERTIFIED = _r(P, "AddDeliveryOptions", f"{PACKAGE_OPTION}.SageMakerModelPackageArn",
                   "certified", "CertifyForMarketplace=True", INVALID_INPUT, GUIDE)
PKG_ACCOUNT = _r(P, "AddDeliveryOptions", f"{PACKAGE_OPTION}.SageMakerModelPackageArn",
                 "seller_account", "the seller's account", INVALID_INPUT, GUIDE)
PKG_REGION = _r(P, "AddDeliveryOptions", f"{PACKAGE_OPTION}.SageMakerModelPackageArn",
                "seller_region", "the seller's region", INVALID_INPUT, GUIDE)
ROLE_ACCOUNT = _r(P, "AddDeliveryOptions", f"{PACKAGE_OPTION}.AccessRoleArn", "seller_account",
                  "the seller's account", INVALID_INPUT, GUIDE)
REC_ADD = _r(P, "AddDeliveryOptions", f"{PACKAGE_OPTION}.RecommendedInstanceTypes", "supported",
             "the package's supported instance types", RECOMMENDED, ML_API)
REC_UPDATE = _r(P, "UpdateDeliveryOptions", f"{PACKAGE_OPTION}.RecommendedInstanceTypes",
                "supported", "the package's supported instance types", RECOMMENDED, ML_API)
UPDATE_OPTION = _r(P, "UpdateDeliveryOptions", "DeliveryOptions[].Id", "exists", True,
                   INVALID_INPUT, ML_API)
RESTRICT_OPTION = _r(P, "RestrictDeliveryOptions", "DeliveryOptionIds[]", "exists", True,
                     INVALID_INPUT, ML_API)
VIS_RELEASED = _r(P, "UpdateVisibility", "TargetVisibility", "released", "ReleaseProduct first",
                  INVALID_INPUT, GUIDE)
VIS_PRIVATE = _r(P, "UpdateVisibility", "TargetVisibility", "never_public_if_private",
                 "a Private listing never becomes Public", INVALID_INPUT, GUIDE)
RELEASE_INFO = _r(P, "ReleaseProduct", "Description", "required_before_release",
                  "UpdateInformation first", INVALID_INPUT, ML_API)
RELEASE_VERSION = _r(P, "ReleaseProduct", "Versions", "required_before_release",
                     "AddDeliveryOptions first", INVALID_INPUT, ML_API)

# ----------------------------------------------------------------------------- the offer

OF = "Offer"
OFFER_PRODUCT = _r(OF, "CreateOffer", "ProductId", "exists", "a product", INVALID_INPUT, OFFER)
PRICED_ALL = _r(OF, "UpdatePricingTerms", "Terms[].RateCards[].RateCard", "covers_supported",
                "every supported instance type", PRICING_REQUIRED, GUIDE)
PRICED_ONLY_SUPPORTED = _r(OF, "UpdatePricingTerms", "Terms[].RateCards[].RateCard",
                           "only_supported", "supported instance types only", INVALID_INPUT,
                           GUIDE)
TERM_ONCE = _r(OF, "UpdatePricingTerms", "Terms[].Type", "unique", "one term per type",
               INVALID_INPUT, OFFER)
USAGE_FIELDS = _r(OF, "UpdatePricingTerms", "Terms[UsageBasedPricingTerm]", "required",
                  "CurrencyCode and RateCards", INVALID_INPUT, OFFER)
USAGE_NEEDED = _r(OF, "UpdatePricingTerms", "Terms", "usage_term", "PricingModel Usage",
                  INVALID_INPUT, OFFER)
TRIAL_FIELDS = _r(OF, "UpdatePricingTerms", "Terms[FreeTrialPricingTerm]", "required",
                  "Duration and Grants", INVALID_INPUT, OFFER)
TRIAL_HOURLY = _r(OF, "UpdatePricingTerms", "Terms[].Grants[].DimensionKey", "hourly_only",
                  "not m.i.c", INVALID_INPUT, GUIDE)
TRIAL_PRICED = _r(OF, "UpdatePricingTerms", "Terms[].Grants[].DimensionKey", "priced",
                  "a dimension of the rate card", INVALID_INPUT, OFFER)
EULA_URL = _r(OF, "UpdateLegalTerms", "Terms[].Documents[CustomEula].Url", "required", True,
              INVALID_INPUT, OFFER)
EULA_VERSION = _r(OF, "UpdateLegalTerms", "Terms[].Documents[StandardEula].Version", "required",
                  True, INVALID_INPUT, OFFER)
RELEASE_TERMS = _r(OF, "ReleaseOffer", "Terms", "required_before_release",
                   "pricing, legal and support terms", INVALID_INPUT, ML_API)


def _option(details: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for i, option in enumerate(details.get("DeliveryOptions") or []):
        inner = (option.get("Details") or {}) if isinstance(option, dict) else {}
        sm = inner.get(PACKAGE_OPTION) if isinstance(inner, dict) else None
        if isinstance(sm, dict):
            return f"DeliveryOptions[{i}].Details.{PACKAGE_OPTION}", sm
    return None


def package_supported(package: dict[str, Any]) -> dict[str, list[str]]:
    """A DescribeModelPackage answer's instance types, keyed as DescribeEntity keys them."""
    spec = package.get("InferenceSpecification") or {}
    return {"RealtimeInference": list(spec.get("SupportedRealtimeInferenceInstanceTypes") or []),
            "BatchTransform": list(spec.get("SupportedTransformInstanceTypes") or [])}


def _recommended(rule: Rule, where: str, sm: dict[str, Any],
                 supported: dict[str, list[str]]) -> list[Violation]:
    out = []
    rec = sm.get("RecommendedInstanceTypes")
    for mode, types in supported.items():
        value = rec.get(mode) if isinstance(rec, dict) else None
        if isinstance(value, str) and value not in types:
            out.append(Violation(rule, f"{where}.RecommendedInstanceTypes.{mode}", value,
                                 f"{value} is not among the model package's supported "
                                 f"instance types {types}"))
    return out


def add_delivery_options(details: dict[str, Any], product: dict[str, Any],
                         env: Env) -> tuple[list[Violation], dict[str, list[str]] | None]:
    """The version and model package rules; also the package's supported instance types."""
    out: list[Violation] = []
    title = (details.get("Version") or {}).get("VersionTitle")
    titles = [v.get("VersionTitle") for v in product.get("Versions") or []]
    if isinstance(title, str) and title in titles:
        out.append(Violation(VERSION_UNIQUE, "Version.VersionTitle", title,
                             f"version {title!r} already exists; a version holds one delivery "
                             "option: use UpdateDeliveryOptions to change it, or a new "
                             "VersionTitle"))
    found = _option(details)
    if found is None:
        return out, None
    where, sm = found
    arn, role = sm.get("SageMakerModelPackageArn"), sm.get("AccessRoleArn")
    seller, region = env.ctx.seller_account, env.ctx.region
    role_parts = arns.split(role) if isinstance(role, str) else None
    if role_parts is not None and seller:
        account = role_parts.account
        if account != seller:
            out.append(Violation(ROLE_ACCOUNT, f"{where}.AccessRoleArn", role,
                                 f"the role is in account {account}, not the seller's "
                                 f"account {seller}"))
    if not isinstance(arn, str) or (parts := arns.split(arn)) is None:
        return out, None
    if seller and parts.account != seller:
        out.append(Violation(PKG_ACCOUNT, f"{where}.SageMakerModelPackageArn", arn,
                             f"the model package is in account {parts.account}, not the "
                             f"seller's account {seller}"))
    if region and parts.region != region:
        out.append(Violation(PKG_REGION, f"{where}.SageMakerModelPackageArn", arn,
                             f"the model package is in {parts.region}, not the seller's region "
                             f"{region}"))
    try:
        package = env.package(arn)
    except PackageLookupError as e:
        out.append(Violation(PKG_EXISTS, f"{where}.SageMakerModelPackageArn", arn, str(e)))
        return out, None
    if package is None:
        if env.ctx.lookup is not None:
            out.append(Violation(PKG_EXISTS, f"{where}.SageMakerModelPackageArn", arn,
                                 f"model package {arn} does not exist"))
        return out, None
    if not package.get("CertifyForMarketplace"):
        out.append(Violation(PKG_CERTIFIED, f"{where}.SageMakerModelPackageArn", arn,
                             f"model package {arn} was not created with "
                             "CertifyForMarketplace=True; create it again"))
    supported = package_supported(package)
    out += _recommended(REC_ADD, where, sm, supported)
    return out, supported


def _options(product: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(o.get("Id")): o for v in product.get("Versions") or []
            for o in v.get("DeliveryOptions") or []}


def update_delivery_options(details: dict[str, Any], product: dict[str, Any],
                            env: Env) -> list[Violation]:
    """The delivery option must exist; a new recommendation must be supported."""
    out: list[Violation] = []
    known = _options(product)
    for i, option in enumerate(details.get("DeliveryOptions") or []):
        ident = option.get("Id") if isinstance(option, dict) else None
        if not isinstance(ident, str):
            continue
        if ident not in known:
            out.append(Violation(UPDATE_OPTION, f"DeliveryOptions[{i}].Id", ident,
                                 f"the product has no delivery option {ident}"))
            continue
        sm = ((option.get("Details") or {}).get(PACKAGE_OPTION))
        if isinstance(sm, dict):
            supported = known[ident].get("SupportedInstanceTypes") or {}
            out += _recommended(REC_UPDATE, f"DeliveryOptions[{i}].Details.{PACKAGE_OPTION}",
                                sm, supported)
    return out


def restrict_delivery_options(details: dict[str, Any], product: dict[str, Any]) -> list[Violation]:
    """Only the product's own delivery options can be restricted."""
    known = _options(product)
    return [Violation(RESTRICT_OPTION, f"DeliveryOptionIds[{i}]", ident,
                      f"the product has no delivery option {ident}")
            for i, ident in enumerate(details.get("DeliveryOptionIds") or [])
            if isinstance(ident, str) and ident not in known]


def update_visibility(details: dict[str, Any], product: dict[str, Any]) -> list[Violation]:
    """Released first; a product targeted at named buyers never becomes Public."""
    out: list[Violation] = []
    target = details.get("TargetVisibility")
    description = product.get("Description") or {}
    if description.get("Visibility", "Draft") == "Draft":
        out.append(Violation(VIS_RELEASED, "TargetVisibility", target,
                             "release the product (ReleaseProduct) before changing its "
                             "visibility"))
    buyers = ((product.get("Targeting") or {}).get("PositiveTargeting") or {}).get(
        "BuyerAccounts")
    if target == "Public" and buyers:
        out.append(Violation(VIS_PRIVATE, "TargetVisibility", target,
                             "a Private listing (targeted at buyer accounts) can never become "
                             "Public"))
    return out


def release_product(product: dict[str, Any]) -> list[Violation]:
    """A product needs its information and a version before release."""
    out = []
    if not (product.get("Description") or {}).get("ProductTitle"):
        out.append(Violation(RELEASE_INFO, "Description", None,
                             "the product needs UpdateInformation before release"))
    if not product.get("Versions"):
        out.append(Violation(RELEASE_VERSION, "Versions", None,
                             "the product needs a version (AddDeliveryOptions) before release"))
    return out


# ----------------------------------------------------------------------------- the offer


def create_offer(details: dict[str, Any], env: Env) -> list[Violation]:
    """The offer's ProductId names a product."""
    ident = details.get("ProductId")
    if not isinstance(ident, str):
        return []
    found = env.entity(ident)
    if found is None or found[0] != PRODUCT_TYPE:
        return [Violation(OFFER_PRODUCT, "ProductId", ident, f"{ident} is not a product")]
    return []


def supported_of(product: dict[str, Any]) -> dict[str, list[str]]:
    """Instance types of every version still offered (not Restricted)."""
    out: dict[str, list[str]] = {"RealtimeInference": [], "BatchTransform": []}
    for version in product.get("Versions") or []:
        for option in version.get("DeliveryOptions") or []:
            if option.get("Visibility") == "Restricted":
                continue
            for mode, types in (option.get("SupportedInstanceTypes") or {}).items():
                out.setdefault(mode, [])
                out[mode] += [t for t in types if t not in out[mode]]
    return out


def update_pricing_terms(details: dict[str, Any], offer: dict[str, Any],
                         env: Env) -> list[Violation]:
    """Terms per type, the rate card against the product's instance types, free-trial grants."""
    out: list[Violation] = []
    terms = [t for t in details.get("Terms") or [] if isinstance(t, dict)]
    seen: set[str] = set()
    priced: list[str] = []
    for i, term in enumerate(terms):
        kind = term.get("Type")
        if kind in seen:
            out.append(Violation(TERM_ONCE, f"Terms[{i}].Type", kind,
                                 f"{kind} appears more than once"))
        seen.add(str(kind))
        if kind == "UsageBasedPricingTerm":
            missing = [k for k in ("CurrencyCode", "RateCards") if term.get(k) is None]
            if missing:
                out.append(Violation(USAGE_FIELDS, f"Terms[{i}]", None,
                                     f"a UsageBasedPricingTerm needs {' and '.join(missing)}"))
            for card in term.get("RateCards") or []:
                for rate in (card.get("RateCard") or []) if isinstance(card, dict) else []:
                    if isinstance(rate, dict) and isinstance(rate.get("DimensionKey"), str):
                        priced.append(rate["DimensionKey"])
        if kind == "FreeTrialPricingTerm":
            missing = [k for k in ("Duration", "Grants") if term.get(k) is None]
            if missing:
                out.append(Violation(TRIAL_FIELDS, f"Terms[{i}]", None,
                                     f"a FreeTrialPricingTerm needs {' and '.join(missing)}"))
    if details.get("PricingModel") == "Usage" and "UsageBasedPricingTerm" not in seen:
        out.append(Violation(USAGE_NEEDED, "Terms", None,
                             "PricingModel Usage needs a UsageBasedPricingTerm"))
    for i, term in enumerate(terms):
        if term.get("Type") != "FreeTrialPricingTerm":
            continue
        for j, grant in enumerate(term.get("Grants") or []):
            key = grant.get("DimensionKey") if isinstance(grant, dict) else None
            if not isinstance(key, str):
                continue
            where = f"Terms[{i}].Grants[{j}].DimensionKey"
            if key == "m.i.c":
                out.append(Violation(TRIAL_HOURLY, where, key,
                                     "a free trial applies to hourly pricing only, not m.i.c"))
            elif key not in priced:
                out.append(Violation(TRIAL_PRICED, where, key,
                                     f"{key} is not a dimension of the rate card"))
    found = env.entity(str(offer.get("ProductId") or ""))
    if found is None or not priced:
        return out
    supported = supported_of(found[1])
    per_inference = "m.i.c" in priced
    need = [] if per_inference else [f"{t}.m.i.r" for t in supported["RealtimeInference"]]
    need += [f"{t}.m.i.b" for t in supported["BatchTransform"]]
    missing = [k for k in need if k not in priced]
    if missing:
        out.append(Violation(PRICED_ALL, "Terms[].RateCards[].RateCard", missing,
                             "every supported instance type must be priced; no price for "
                             + ", ".join(missing)))
    allowed = set(need) | {f"{t}.m.i.r" for t in supported["RealtimeInference"]} | {"m.i.c"}
    extra = [k for k in priced if k not in allowed]
    if extra and any(supported.values()):
        out.append(Violation(PRICED_ONLY_SUPPORTED, "Terms[].RateCards[].RateCard", extra,
                             "priced instance types the product does not support: "
                             + ", ".join(extra)))
    return out


def update_legal_terms(details: dict[str, Any]) -> list[Violation]:
    """A custom EULA needs its URL; the standard one its version."""
    out = []
    for i, term in enumerate(details.get("Terms") or []):
        docs = term.get("Documents") if isinstance(term, dict) else None
        for j, doc in enumerate(docs or []):
            if not isinstance(doc, dict):
                continue
            where = f"Terms[{i}].Documents[{j}]"
            if doc.get("Type") == "CustomEula" and doc.get("Url") is None:
                out.append(Violation(EULA_URL, f"{where}.Url", None, "a CustomEula needs Url"))
            if doc.get("Type") == "StandardEula" and doc.get("Version") is None:
                out.append(Violation(EULA_VERSION, f"{where}.Version", None,
                                     "a StandardEula needs Version"))
    return out


def release_offer(offer: dict[str, Any]) -> list[Violation]:
    """An offer needs pricing, legal and support terms before release."""
    kinds = {t.get("Type") for t in offer.get("Terms") or [] if isinstance(t, dict)}
    missing = [name for name, ok in (
        ("pricing terms", bool(kinds & set(PRICING_TERMS))),
        ("legal terms", "LegalTerm" in kinds), ("support terms", "SupportTerm" in kinds)) if not ok]
    if missing:
        return [Violation(RELEASE_TERMS, "Terms", None,
                          f"the offer needs {', '.join(missing)} before release")]
    return []


#: Every cross-field rule, for the coverage check and the docs.
CROSS_RULES: list[Rule] = [
    CHANGES_MIN, CHANGES_MAX, DETAILS_MAX, TOKEN_MAX, TOKEN_CHARS, NAME_MAX, NAME_CHARS, TYPE,
    VERSION_UNIQUE, PKG_EXISTS, PKG_CERTIFIED, PKG_ACCOUNT, PKG_REGION, ROLE_ACCOUNT, REC_ADD,
    REC_UPDATE, UPDATE_OPTION, RESTRICT_OPTION, VIS_RELEASED, VIS_PRIVATE, RELEASE_INFO,
    RELEASE_VERSION, OFFER_PRODUCT, PRICED_ALL, PRICED_ONLY_SUPPORTED, TERM_ONCE, USAGE_FIELDS,
    USAGE_NEEDED, TRIAL_FIELDS, TRIAL_HOURLY, TRIAL_PRICED, EULA_URL, EULA_VERSION,
    RELEASE_TERMS,
]
