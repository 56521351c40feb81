"""A local AWS Marketplace Catalog API for ML products, speaking boto3's wire protocol.

Run ``python -m smkit.emulators.catalog --host 127.0.0.1 --port N`` and point boto3 at it with
``AWS_ENDPOINT_URL_MARKETPLACE_CATALOG=http://127.0.0.1:N``.

The protocol is restJson1 as botocore's ``marketplace-catalog`` service model describes it:
``POST /StartChangeSet``, ``GET /DescribeChangeSet?catalog=&changeSetId=``,
``POST /ListChangeSets``, ``GET /DescribeEntity?catalog=&entityId=``, ``POST /ListEntities``
and ``PATCH /CancelChangeSet?catalog=&changeSetId=``. Errors carry ``x-amzn-ErrorType`` and a
``Message`` so boto3 raises ``ClientError`` with the AWS error code.

Like AWS, malformed requests fail synchronously (ValidationException, ResourceNotFoundException,
ResourceInUseException) while the documented listing rules are checked asynchronously: the
change set goes PREPARING -> APPLYING -> SUCCEEDED, or FAILED with an ErrorDetailList per
change (ASSET_VALIDATION_EXCEPTION, INVALID_RECOMMENDED_INSTANCE_TYPE, UPDATE_PRICING_REQUIRED,
and INVALID_INPUT for the field limits). ``Intent=VALIDATE`` runs the checks and changes
nothing. With a SageMaker endpoint (``--sagemaker-endpoint``, or ``AWS_ENDPOINT_URL_SAGEMAKER``)
the emulator reads the model package like Marketplace does, to check certification,
recommended instance types and that every supported instance type is priced.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import secrets
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from ..listing import limits

ACCOUNT = "123456789012"
CHANGE_TYPES: dict[str, set[str]] = {
    limits.PRODUCT_TYPE: {
        "CreateProduct", "UpdateInformation", "AddDeliveryOptions", "UpdateDeliveryOptions",
        "RestrictDeliveryOptions", "UpdateTargeting", "UpdateVisibility", "ReleaseProduct",
    },
    limits.OFFER_TYPE: {
        "CreateOffer", "UpdatePricingTerms", "UpdateLegalTerms", "UpdateSupportTerms",
        "ReleaseOffer",
    },
}
CREATE = {"CreateProduct": limits.PRODUCT_TYPE, "CreateOffer": limits.OFFER_TYPE}
_REF = re.compile(r"^\$([A-Za-z0-9_]+)\.Entity\.Identifier$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")
_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/\S+$")
_DURATION = re.compile(r"^P(\d+)D$")
_DIMENSION = re.compile(r"^(ml\.[a-z0-9]+\.[a-z0-9]+)\.m\.i\.([rb])$")

#: Looks up a model package by ARN: its DescribeModelPackage answer, or None if it is unknown.
PackageLookup = Callable[[str], dict[str, Any] | None]


class PackageLookupError(Exception):
    """SageMaker could not be asked about a model package (as opposed to: it does not exist)."""


class ApiError(Exception):
    """A synchronous AWS error: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _validation(message: str) -> ApiError:
    return ApiError(422, "ValidationException", message)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(7)[:13]


@dataclass
class Entity:
    """A product or offer as the catalog keeps it."""

    entity_id: str
    type: str
    details: dict[str, Any]
    revision: int = 1
    modified: str = field(default_factory=_now)

    def arn(self, region: str) -> str:
        """The entity's ARN."""
        kind = self.type.split("@", 1)[0]
        return f"arn:aws:aws-marketplace:{region}:{ACCOUNT}:AWSMarketplace/{kind}/{self.entity_id}"


@dataclass
class ChangeSet:
    """A submitted change set and where it stands."""

    cs_id: str
    name: str | None
    intent: str
    changes: list[dict[str, Any]]
    status: str = "PREPARING"
    start: str = field(default_factory=_now)
    end: str | None = None
    failure_code: str | None = None
    failure_description: str | None = None
    errors: list[list[dict[str, str]]] = field(default_factory=list)
    resolved: dict[int, str] = field(default_factory=dict)
    entity_ids: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- the rules


class _Sim:
    """Entities as they would be after the changes so far: the rules are checked against it."""

    def __init__(self, entities: dict[str, Entity], lookup: PackageLookup | None) -> None:
        self.entities = {k: copy.deepcopy(v) for k, v in entities.items()}
        self.lookup = lookup
        self.created: dict[str, str] = {}

    def resolve(self, identifier: str) -> str:
        m = _REF.match(identifier)
        if m:
            return self.created[m.group(1)]
        return identifier.split("@", 1)[0]


def _text_errors(details: dict[str, Any]) -> list[tuple[str, str]]:
    """The UpdateInformation limits, each as an INVALID_INPUT naming field, limit and length."""
    errs: list[tuple[str, str]] = []

    def bad(msg: str) -> None:
        errs.append(("INVALID_INPUT", msg))

    for name, limit in limits.TEXT_MAX.items():
        value = details.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            got = len(value) if isinstance(value, str) else type(value).__name__
            bad(f"{name} allows at most {limit} characters, got {got}")

    def items(name: str, lo: int, hi: int, each: int | None = None) -> None:
        value = details.get(name)
        if value is None:
            return
        if not isinstance(value, list) or not lo <= len(value) <= hi:
            got = len(value) if isinstance(value, list) else type(value).__name__
            bad(f"{name} takes {lo} to {hi} items, got {got}")
            return
        for i, v in enumerate(value):
            if each is not None and (not isinstance(v, str) or len(v) > each):
                bad(f"{name}[{i}] allows at most {each} characters, got "
                    f"{len(v) if isinstance(v, str) else type(v).__name__}")

    items("Highlights", limits.HIGHLIGHTS_MIN, limits.HIGHLIGHTS_MAX, limits.HIGHLIGHT_MAX_CHARS)
    items("Categories", limits.CATEGORIES_MIN, limits.CATEGORIES_MAX)
    items("SearchKeywords", 0, limits.KEYWORDS_MAX, limits.KEYWORD_MAX_CHARS)
    items("VideoUrls", 0, limits.VIDEO_URLS_MAX)
    items("AdditionalResources", 0, limits.ADDITIONAL_RESOURCES_MAX)
    return errs


def _https(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and len(value) > 8


def _asset_errors(details: dict[str, Any]) -> list[tuple[str, str]]:
    errs = []
    if "LogoUrl" in details and not _https(details["LogoUrl"]):
        errs.append(("ASSET_VALIDATION_EXCEPTION",
                     f"LogoUrl must be a public https URL, got {details['LogoUrl']!r}"))
    for i, url in enumerate(details.get("VideoUrls") or []):
        if not _https(url):
            errs.append(("ASSET_VALIDATION_EXCEPTION",
                         f"VideoUrls[{i}] must be https, got {url!r}"))
    for i, res in enumerate(details.get("AdditionalResources") or []):
        url = res.get("Url") if isinstance(res, dict) else None
        if not _https(url):
            errs.append(("ASSET_VALIDATION_EXCEPTION",
                         f"AdditionalResources[{i}].Url must be https, got {url!r}"))
    return errs


def _delivery_errors(details: dict[str, Any], sim: _Sim,
                     product: dict[str, Any]) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []
    version = details.get("Version") or {}
    if not version.get("VersionTitle"):
        errs.append(("INVALID_INPUT", "Version.VersionTitle is required"))
    options = details.get("DeliveryOptions") or []
    if not options:
        errs.append(("INVALID_INPUT", "DeliveryOptions needs one SageMaker model package option"))
    for option in options:
        sm = (option.get("Details") or {}).get("SageMakerModelPackageDeliveryOptionDetails")
        if not isinstance(sm, dict):
            errs.append(("INVALID_INPUT",
                         "DeliveryOptions[].Details.SageMakerModelPackageDeliveryOptionDetails "
                         "is required"))
            continue
        arn = sm.get("SageMakerModelPackageArn", "")
        if not _PACKAGE_ARN.match(str(arn)):
            errs.append(("INVALID_INPUT",
                         f"SageMakerModelPackageArn must be a model package ARN, got {arn!r}"))
        role = sm.get("AccessRoleArn", "")
        if not _ROLE_ARN.match(str(role)):
            errs.append(("INVALID_INPUT",
                         f"AccessRoleArn must be an IAM role ARN, not a role name; got {role!r}"))
        if not sm.get("UsageInstructions"):
            errs.append(("INVALID_INPUT", "UsageInstructions is required"))
        for key in ("SampleNotebookUrl", "RepositoryUrl"):
            if key in sm and not _https(sm[key]):
                errs.append(("ASSET_VALIDATION_EXCEPTION", f"{key} must be https, got {sm[key]!r}"))
        rec = sm.get("RecommendedInstanceTypes") or {}
        package = None
        if sim.lookup is not None and _PACKAGE_ARN.match(str(arn)):
            try:
                package = sim.lookup(str(arn))
            except PackageLookupError as e:
                errs.append(("INVALID_INPUT", str(e)))
                continue
            if package is None:
                errs.append(("INVALID_INPUT", f"model package {arn} does not exist"))
            elif not package.get("CertifyForMarketplace"):
                errs.append(("INVALID_INPUT",
                             f"model package {arn} was not created with "
                             "CertifyForMarketplace=True; create it again"))
        if package:
            spec = package.get("InferenceSpecification") or {}
            supported = {
                "RealtimeInference": spec.get("SupportedRealtimeInferenceInstanceTypes") or [],
                "BatchTransform": spec.get("SupportedTransformInstanceTypes") or [],
            }
            for mode, types in supported.items():
                if mode in rec and rec[mode] not in types:
                    errs.append(("INVALID_RECOMMENDED_INSTANCE_TYPE",
                                 f"RecommendedInstanceTypes.{mode} {rec[mode]} is not among the "
                                 f"model package's supported instance types {types}"))
            product["_supported"] = supported
        product.setdefault("Versions", []).append({
            "Id": _new_id("version-"), "VersionTitle": version.get("VersionTitle"),
            "ReleaseNotes": version.get("ReleaseNotes"), "DeliveryOptions": options,
        })
    return errs


def _pricing_errors(details: dict[str, Any], sim: _Sim,
                    offer: dict[str, Any]) -> list[tuple[str, str]]:
    errs: list[tuple[str, str]] = []
    if details.get("PricingModel") not in ("Usage", "Free"):
        errs.append(("INVALID_INPUT", f"PricingModel must be Usage, got "
                                      f"{details.get('PricingModel')!r}"))
    priced: set[str] = set()
    trial: dict[str, Any] | None = None
    for term in details.get("Terms") or []:
        if term.get("Type") == "UsageBasedPricingTerm":
            for card in term.get("RateCards") or []:
                for rate in card.get("RateCard") or []:
                    key, price = rate.get("DimensionKey", ""), rate.get("Price")
                    if key != limits.PER_INFERENCE_KEY and not _DIMENSION.match(str(key)):
                        errs.append(("INVALID_INPUT", f"unknown pricing dimension {key!r}"))
                    try:
                        ok = Decimal(str(price)) >= 0
                    except InvalidOperation:
                        ok = False
                    if not ok:
                        errs.append(("INVALID_INPUT", f"Price of {key} must be a non-negative "
                                                      f"decimal, got {price!r}"))
                    priced.add(str(key))
        elif term.get("Type") == "FreeTrialPricingTerm":
            trial = term
        else:
            errs.append(("INVALID_INPUT", f"unknown term type {term.get('Type')!r}"))
    if trial is not None:
        m = _DURATION.match(str(trial.get("Duration", "")))
        days = int(m.group(1)) if m else -1
        if not limits.FREE_TRIAL_MIN_DAYS <= days <= limits.FREE_TRIAL_MAX_DAYS:
            errs.append(("INVALID_INPUT",
                         f"FreeTrialPricingTerm.Duration must be P{limits.FREE_TRIAL_MIN_DAYS}D to "
                         f"P{limits.FREE_TRIAL_MAX_DAYS}D, got {trial.get('Duration')!r}"))
        for grant in trial.get("Grants") or []:
            if grant.get("DimensionKey") == limits.PER_INFERENCE_KEY:
                errs.append(("INVALID_INPUT",
                             "a free trial applies to hourly pricing only, not m.i.c"))
    product = sim.entities.get(str(offer.get("ProductId")))
    supported = (product.details.get("_supported") if product else None) or {}
    per_inference = limits.PER_INFERENCE_KEY in priced
    missing = []
    for it in supported.get("RealtimeInference", []):
        if not per_inference and limits.realtime_key(it) not in priced:
            missing.append(limits.realtime_key(it))
    for it in supported.get("BatchTransform", []):
        if limits.batch_key(it) not in priced:
            missing.append(limits.batch_key(it))
    if missing:
        errs.append(("UPDATE_PRICING_REQUIRED",
                     "every supported instance type must be priced; no price for "
                     + ", ".join(missing)))
    offer["Terms"] = details.get("Terms")
    return errs


def _apply_rules(change_type: str, details: dict[str, Any], entity: Entity,
                 sim: _Sim) -> list[tuple[str, str]]:
    """Check one change against the simulated catalog and update it; return the errors."""
    d = entity.details
    if change_type == "UpdateInformation":
        errs = _text_errors(details) + _asset_errors(details)
        d.setdefault("Description", {}).update(
            {k: v for k, v in details.items() if k not in ("LogoUrl", "SupportDescription")})
        d["PromotionalResources"] = {"LogoUrl": details.get("LogoUrl")}
        d["SupportInformation"] = {"Description": details.get("SupportDescription")}
        return errs
    if change_type == "AddDeliveryOptions":
        return _delivery_errors(details, sim, d)
    if change_type == "UpdateTargeting":
        accounts = (details.get("PositiveTargeting") or {}).get("BuyerAccounts") or []
        bad = [a for a in accounts if not re.fullmatch(r"\d{12}", str(a))]
        d["Targeting"] = {"PositiveTargeting": {"BuyerAccounts": accounts}}
        d["_private"] = True
        if bad:
            return [("INVALID_INPUT", f"BuyerAccounts must be 12-digit account IDs, got {bad}")]
        return []
    if change_type == "UpdateVisibility":
        target = details.get("TargetVisibility")
        if target not in ("Public", "Limited", "Restricted"):
            return [("INVALID_INPUT", f"TargetVisibility {target!r} is not Public, Limited or "
                                      "Restricted")]
        if target == "Public" and d.get("_private"):
            return [("INVALID_INPUT", "a Private listing can never become Public")]
        if d.get("Visibility") == "Draft":
            return [("INVALID_INPUT", "release the product before changing its visibility")]
        d["Visibility"] = target
        return []
    if change_type == "ReleaseProduct":
        errs = []
        if not (d.get("Description") or {}).get("ProductTitle"):
            errs.append(("INVALID_INPUT", "the product needs UpdateInformation before release"))
        if not d.get("Versions"):
            errs.append(("INVALID_INPUT", "the product needs a version (AddDeliveryOptions) "
                                          "before release"))
        d["Visibility"] = "Limited"
        return errs
    if change_type == "UpdatePricingTerms":
        return _pricing_errors(details, sim, d)
    if change_type == "UpdateLegalTerms":
        errs = []
        for term in details.get("Terms") or []:
            for doc in term.get("Documents") or []:
                if doc.get("Type") == "CustomEula" and not _https(doc.get("Url")):
                    errs.append(("ASSET_VALIDATION_EXCEPTION",
                                 "CustomEula Url must be a public https URL, got "
                                 f"{doc.get('Url')!r}"))
                elif doc.get("Type") not in ("CustomEula", "StandardEula"):
                    errs.append(("INVALID_INPUT", f"unknown legal document {doc.get('Type')!r}"))
        d["LegalTerms"] = details.get("Terms")
        return errs
    if change_type == "UpdateSupportTerms":
        terms = details.get("Terms") or []
        d["SupportTerms"] = terms
        if not any(t.get("RefundPolicy") for t in terms):
            return [("INVALID_INPUT", "SupportTerm.RefundPolicy is required")]
        return []
    if change_type == "ReleaseOffer":
        errs = [("INVALID_INPUT", f"the offer needs {what} before release")
                for what, key in (("pricing terms", "Terms"), ("legal terms", "LegalTerms"),
                                  ("support terms", "SupportTerms")) if not d.get(key)]
        d["State"] = "Released"
        return errs
    return []


# ----------------------------------------------------------------------------- the store


class Catalog:
    """Entities and change sets, with the same calls and errors as the Catalog API."""

    def __init__(self, *, region: str = "us-east-1", delay: float = 0.3,
                 lookup: PackageLookup | None = None) -> None:
        self.region, self.delay, self.lookup = region, delay, lookup
        self.lock = threading.RLock()
        self.entities: dict[str, Entity] = {}
        self.change_sets: dict[str, ChangeSet] = {}
        self.tokens: dict[str, str] = {}

    # --- StartChangeSet

    def start_change_set(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check the request's shape now; schedule the rules and the changes."""
        self._catalog(body.get("Catalog"))
        intent = body.get("Intent", "APPLY")
        if intent not in ("VALIDATE", "APPLY"):
            raise _validation(f"Intent must be VALIDATE or APPLY, got {intent!r}")
        changes = body.get("ChangeSet")
        if not isinstance(changes, list) or not 1 <= len(changes) <= 20:
            raise _validation("ChangeSet must hold 1 to 20 changes")
        token = body.get("ClientRequestToken")
        with self.lock:
            if token and token in self.tokens:
                return self._ids(self.change_sets[self.tokens[token]])
            parsed, targets = self._parse_changes(changes)
            cs = ChangeSet(cs_id=uuid.uuid4().hex[:25], name=body.get("ChangeSetName"),
                           intent=intent, changes=parsed, entity_ids=targets)
            self.change_sets[cs.cs_id] = cs
            if token:
                self.tokens[token] = cs.cs_id
        threading.Timer(self.delay, self._prepare, args=(cs.cs_id,)).start()
        return self._ids(cs)

    def _catalog(self, catalog: Any) -> None:
        if catalog != limits.CATALOG:
            raise _validation(f"Catalog must be {limits.CATALOG}, got {catalog!r}")

    def _ids(self, cs: ChangeSet) -> dict[str, Any]:
        return {"ChangeSetId": cs.cs_id, "ChangeSetArn": self._cs_arn(cs)}

    def _cs_arn(self, cs: ChangeSet) -> str:
        return (f"arn:aws:aws-marketplace:{self.region}:{ACCOUNT}:AWSMarketplace/ChangeSet/"
                f"{cs.cs_id}")

    def _parse_changes(self, changes: list[Any]) -> tuple[list[dict[str, Any]], list[str]]:
        """The changes in a normalised form, and the existing entities they lock."""
        names: dict[str, str] = {}
        seen: set[tuple[str, str]] = set()
        parsed = []
        targets: set[str] = set()
        for i, change in enumerate(changes):
            where = f"ChangeSet[{i}]"
            if not isinstance(change, dict):
                raise _validation(f"{where} must be an object")
            ct, entity = change.get("ChangeType"), change.get("Entity") or {}
            etype = entity.get("Type")
            if etype not in CHANGE_TYPES:
                raise _validation(f"{where}.Entity.Type {etype!r} is not supported; use "
                                  f"{' or '.join(CHANGE_TYPES)}")
            if ct not in CHANGE_TYPES[etype]:
                raise _validation(f"{where}.ChangeType {ct!r} does not apply to {etype}")
            if ("Details" in change) == ("DetailsDocument" in change):
                raise _validation(f"{where} needs exactly one of Details and DetailsDocument")
            details = change.get("DetailsDocument")
            if "Details" in change:
                try:
                    details = json.loads(change["Details"])
                except (TypeError, ValueError):
                    raise _validation(f"{where}.Details is not valid JSON") from None
            if not isinstance(details, dict):
                raise _validation(f"{where} details must be a JSON object")
            ident = entity.get("Identifier")
            if ct in CREATE:
                if ident:
                    raise _validation(f"{where}: {ct} takes no Entity.Identifier")
            elif not ident:
                raise _validation(f"{where}: {ct} needs Entity.Identifier")
            else:
                m = _REF.match(ident)
                if m:
                    if m.group(1) not in names:
                        raise _validation(f"{where}: {ident} does not name an earlier "
                                          "CreateProduct/CreateOffer change")
                    if CREATE[names[m.group(1)]] != etype:
                        raise _validation(f"{where}: {ident} is not a {etype}")
                else:
                    target = self.entities.get(ident.split("@", 1)[0])
                    if target is None or target.type != etype:
                        raise ApiError(404, "ResourceNotFoundException",
                                       f"{where}: entity {ident} of type {etype} not found")
                    if self._locked(target.entity_id):
                        raise ApiError(423, "ResourceInUseException",
                                       f"entity {target.entity_id} is locked by a running "
                                       "change set")
                    targets.add(target.entity_id)
                key = (ct, ident)
                if key in seen:
                    raise _validation(f"{where}: {ct} is already requested for {ident} in this "
                                      "change set")
                seen.add(key)
            name = change.get("ChangeName")
            if name:
                if name in names:
                    raise _validation(f"{where}: ChangeName {name} is used twice")
                names[name] = ct
            parsed.append({"ChangeType": ct, "Entity": {"Type": etype, "Identifier": ident},
                           "ChangeName": name, "Details": details})
        return parsed, sorted(targets)

    def _locked(self, entity_id: str) -> bool:
        return any(cs.status in ("PREPARING", "APPLYING") and entity_id in cs.entity_ids
                   for cs in self.change_sets.values())

    # --- the asynchronous part

    def _simulate(self, cs: ChangeSet) -> tuple[_Sim, list[list[tuple[str, str]]]]:
        sim = _Sim(self.entities, self.lookup)
        all_errors = []
        for i, change in enumerate(cs.changes):
            ct, etype = change["ChangeType"], change["Entity"]["Type"]
            errors: list[tuple[str, str]] = []
            if ct in CREATE:
                prefix = "prod-" if ct == "CreateProduct" else "offer-"
                entity = Entity(_new_id(prefix), etype, {"Visibility": "Draft", "Versions": []})
                if ct == "CreateOffer":
                    product = str(change["Details"].get("ProductId", ""))
                    pid = sim.resolve(product) if product else ""
                    entity.details = {"ProductId": pid, "State": "Draft"}
                    target = sim.entities.get(pid)
                    if target is None or target.type != limits.PRODUCT_TYPE:
                        errors.append(("INVALID_INPUT", f"ProductId {product!r} is not a product"))
                sim.entities[entity.entity_id] = entity
                if change["ChangeName"]:
                    sim.created[change["ChangeName"]] = entity.entity_id
                cs.resolved[i] = entity.entity_id
            else:
                entity = sim.entities[sim.resolve(change["Entity"]["Identifier"])]
                cs.resolved[i] = entity.entity_id
                errors = _apply_rules(ct, change["Details"], entity, sim)
            entity.modified = _now()
            all_errors.append(errors)
        return sim, all_errors

    def _prepare(self, cs_id: str) -> None:
        with self.lock:
            cs = self.change_sets[cs_id]
            if cs.status != "PREPARING":
                return
            sim, errors = self._simulate(cs)
            cs.errors = [[{"ErrorCode": c, "ErrorMessage": m} for c, m in e] for e in errors]
            if any(errors):
                self._finish(cs, "FAILED", "CLIENT_ERROR",
                             "One or more changes failed validation; see ErrorDetailList")
                return
            if cs.intent == "VALIDATE":
                cs.resolved.clear()
                self._finish(cs, "SUCCEEDED")
                return
            cs.entity_ids = sorted(set(cs.resolved.values()))
            cs.status = "APPLYING"
        threading.Timer(self.delay, self._apply, args=(cs_id, sim)).start()

    def _apply(self, cs_id: str, sim: _Sim) -> None:
        with self.lock:
            cs = self.change_sets[cs_id]
            for entity_id in cs.entity_ids:
                self.entities[entity_id] = sim.entities[entity_id]
            self._finish(cs, "SUCCEEDED")

    def _finish(self, cs: ChangeSet, status: str, code: str | None = None,
                description: str | None = None) -> None:
        cs.status, cs.end = status, _now()
        cs.failure_code, cs.failure_description = code, description

    # --- the read calls

    def _change_set(self, catalog: Any, cs_id: Any) -> ChangeSet:
        self._catalog(catalog)
        cs = self.change_sets.get(str(cs_id))
        if cs is None:
            raise ApiError(404, "ResourceNotFoundException", f"change set {cs_id} not found")
        return cs

    def describe_change_set(self, catalog: Any, cs_id: Any) -> dict[str, Any]:
        """DescribeChangeSet."""
        with self.lock:
            cs = self._change_set(catalog, cs_id)
            changes = []
            for i, change in enumerate(cs.changes):
                ident = change["Entity"]["Identifier"]
                if cs.status == "SUCCEEDED" and i in cs.resolved:
                    ident = f"{cs.resolved[i]}@1"
                entity = {"Type": change["Entity"]["Type"]}
                if ident:
                    entity["Identifier"] = ident
                summary: dict[str, Any] = {
                    "ChangeType": change["ChangeType"], "Entity": entity,
                    "Details": json.dumps(change["Details"]),
                    "DetailsDocument": change["Details"],
                    "ErrorDetailList": cs.errors[i] if i < len(cs.errors) else [],
                }
                if change["ChangeName"]:
                    summary["ChangeName"] = change["ChangeName"]
                changes.append(summary)
            out: dict[str, Any] = {**self._ids(cs), "Intent": cs.intent, "StartTime": cs.start,
                                   "Status": cs.status, "ChangeSet": changes}
            for key, value in (("ChangeSetName", cs.name), ("EndTime", cs.end),
                               ("FailureCode", cs.failure_code),
                               ("FailureDescription", cs.failure_description)):
                if value:
                    out[key] = value
            return out

    def cancel_change_set(self, catalog: Any, cs_id: Any) -> dict[str, Any]:
        """CancelChangeSet: only while the change set is still being prepared."""
        with self.lock:
            cs = self._change_set(catalog, cs_id)
            if cs.status == "APPLYING":
                raise ApiError(423, "ResourceInUseException",
                               f"change set {cs.cs_id} is APPLYING and can no longer be cancelled")
            if cs.status != "PREPARING":
                raise _validation(f"change set {cs.cs_id} is already {cs.status}")
            self._finish(cs, "CANCELLED")
            return self._ids(cs)

    @staticmethod
    def _page(items: list[Any], body: dict[str, Any], most: int) -> tuple[list[Any], str | None]:
        try:
            start = int(body.get("NextToken") or 0)
            size = int(body.get("MaxResults") or most)
        except ValueError:
            raise _validation("NextToken or MaxResults is not valid") from None
        if not 1 <= size <= most:
            raise _validation(f"MaxResults must be 1 to {most}")
        end = start + size
        return items[start:end], (str(end) if end < len(items) else None)

    @staticmethod
    def _filters(body: dict[str, Any]) -> dict[str, list[str]]:
        return {f.get("Name"): list(f.get("ValueList") or []) for f in body.get("FilterList") or []}

    def list_change_sets(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListChangeSets, filtered by EntityId, ChangeSetName or Status."""
        self._catalog(body.get("Catalog"))
        filters = self._filters(body)
        with self.lock:
            rows = []
            for cs in self.change_sets.values():
                if "EntityId" in filters and not set(filters["EntityId"]) & set(cs.entity_ids):
                    continue
                if "Status" in filters and cs.status not in filters["Status"]:
                    continue
                if "ChangeSetName" in filters and cs.name not in filters["ChangeSetName"]:
                    continue
                row: dict[str, Any] = {**self._ids(cs), "StartTime": cs.start,
                                       "Status": cs.status, "EntityIdList": cs.entity_ids}
                for key, value in (("ChangeSetName", cs.name), ("EndTime", cs.end),
                                   ("FailureCode", cs.failure_code)):
                    if value:
                        row[key] = value
                rows.append(row)
        page, token = self._page(rows, body, 20)
        return {"ChangeSetSummaryList": page, **({"NextToken": token} if token else {})}

    def describe_entity(self, catalog: Any, entity_id: Any) -> dict[str, Any]:
        """DescribeEntity."""
        self._catalog(catalog)
        with self.lock:
            entity = self.entities.get(str(entity_id).split("@", 1)[0])
            if entity is None:
                raise ApiError(404, "ResourceNotFoundException", f"entity {entity_id} not found")
            public = {k: v for k, v in entity.details.items() if not k.startswith("_")}
            return {"EntityType": entity.type, "EntityIdentifier": f"{entity.entity_id}@1",
                    "EntityArn": entity.arn(self.region), "LastModifiedDate": entity.modified,
                    "Details": json.dumps(public), "DetailsDocument": public}

    def list_entities(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListEntities of one type, filtered by EntityId."""
        self._catalog(body.get("Catalog"))
        wanted = str(body.get("EntityType") or "")
        if not wanted:
            raise _validation("EntityType is required")
        filters = self._filters(body)
        with self.lock:
            rows = []
            for e in self.entities.values():
                kind = e.type.split("@", 1)[0]
                if kind != wanted.split("@", 1)[0]:
                    continue
                if "EntityId" in filters and e.entity_id not in filters["EntityId"]:
                    continue
                row: dict[str, Any] = {"EntityType": kind, "EntityId": e.entity_id,
                                       "EntityArn": e.arn(self.region),
                                       "LastModifiedDate": e.modified}
                if e.type == limits.PRODUCT_TYPE:
                    title = (e.details.get("Description") or {}).get("ProductTitle", "")
                    row["Name"] = title
                    row["Visibility"] = e.details.get("Visibility", "Draft")
                    row["MachineLearningProductSummary"] = {
                        "ProductTitle": title, "Visibility": row["Visibility"]}
                else:
                    row["OfferSummary"] = {"ProductId": e.details.get("ProductId", ""),
                                           "State": e.details.get("State", "Draft")}
                rows.append(row)
        page, token = self._page(rows, body, 50)
        return {"EntitySummaryList": page, **({"NextToken": token} if token else {})}


# ----------------------------------------------------------------------------- HTTP


def make_handler(catalog: Catalog) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``catalog``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "smkit-catalog-emulator"

        def log_message(self, format: str, *args: Any) -> None:
            if os.environ.get("SMKIT_CATALOG_LOG"):
                super().log_message(format, *args)

        def _send(self, status: int, payload: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise _validation("the request body is not JSON") from None
            if not isinstance(body, dict):
                raise _validation("the request body must be a JSON object")
            return body

        def _dispatch(self, method: str) -> None:
            url = urlparse(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            routes: dict[tuple[str, str], Callable[[], dict[str, Any]]] = {
                ("POST", "/StartChangeSet"): lambda: catalog.start_change_set(self._body()),
                ("GET", "/DescribeChangeSet"):
                    lambda: catalog.describe_change_set(q.get("catalog"), q.get("changeSetId")),
                ("POST", "/ListChangeSets"): lambda: catalog.list_change_sets(self._body()),
                ("GET", "/DescribeEntity"):
                    lambda: catalog.describe_entity(q.get("catalog"), q.get("entityId")),
                ("POST", "/ListEntities"): lambda: catalog.list_entities(self._body()),
                ("PATCH", "/CancelChangeSet"):
                    lambda: catalog.cancel_change_set(q.get("catalog"), q.get("changeSetId")),
                ("GET", "/"): lambda: {"service": "marketplace-catalog", "emulator": "smkit"},
            }
            route = routes.get((method, url.path))
            try:
                if route is None:
                    raise ApiError(404, "UnknownOperationException",
                                   f"{method} {url.path} is not an operation this emulator knows")
                self._send(200, route())
            except ApiError as e:
                self._send(e.status, {"Message": e.message}, {"x-amzn-ErrorType": e.code})

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PATCH(self) -> None:
            self._dispatch("PATCH")

    return Handler


def sagemaker_lookup(endpoint: str, region: str) -> PackageLookup:
    """Read model packages from a SageMaker endpoint (moto server offline)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    # The endpoint is a local stand-in, so dummy credentials do when none are configured.
    session = boto3.session.Session()
    creds = {} if session.get_credentials() is not None else {
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    client = boto3.client("sagemaker", endpoint_url=endpoint, region_name=region, **creds)

    def lookup(arn: str) -> dict[str, Any] | None:
        try:
            return dict(client.describe_model_package(ModelPackageName=arn))
        except ClientError:
            return None
        except BotoCoreError as e:
            raise PackageLookupError(f"could not read {arn} from {endpoint}: {e}") from e

    return lookup


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator until SIGTERM or Ctrl-C."""
    ap = argparse.ArgumentParser(prog="python -m smkit.emulators.catalog", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4580)
    ap.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    ap.add_argument("--delay", type=float, default=0.3,
                    help="seconds each asynchronous step takes (PREPARING, APPLYING)")
    ap.add_argument("--sagemaker-endpoint",
                    default=os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER")
                    or os.environ.get("AWS_ENDPOINT_URL"),
                    help="where to read model packages (default: $AWS_ENDPOINT_URL_SAGEMAKER)")
    args = ap.parse_args(argv)
    lookup = sagemaker_lookup(args.sagemaker_endpoint, args.region) \
        if args.sagemaker_endpoint else None
    catalog = Catalog(region=args.region, delay=args.delay, lookup=lookup)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(catalog))
    server.daemon_threads = True

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    print(f"smkit catalog emulator ready on http://{host!s}:{port}"
          f" (model packages from {args.sagemaker_endpoint or 'nowhere: not checked'})",
          flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
