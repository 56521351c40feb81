"""The Catalog emulator's state machine: entities, change sets and their life cycle.

Entities are kept in the shape DescribeEntity returns: a product has ``Versions[]`` whose
``DeliveryOptions[]`` carry ``Id``s, ``Description`` (with ``Visibility``),
``PromotionalResources`` (logo, videos, additional resources), ``SupportInformation`` and
``Targeting``; an offer has ``ProductId``, ``State`` and all its ``Terms``.

A change set goes PREPARING -> APPLYING -> SUCCEEDED, or FAILED with an ErrorDetailList per
change, or CANCELLED while PREPARING. ``Simulation`` runs the changes against a copy of the
entities, checking each with the shared rule set first; ``listing check`` uses it the same way,
in memory. A request to make a product Public is reviewed, as AWS does: the change set stays
APPLYING and the product stays Limited until the review ends.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smkit.emulators.catalog_rules import ApiError, check_request, error_detail, validation
from smkit.listing import limits
from smkit.listing.rules import Context, Violation, change_types, check_change

ACCOUNT = "123456789012"
CHANGE_TYPES = change_types()
CREATE = {"CreateProduct": limits.PRODUCT_TYPE, "CreateOffer": limits.OFFER_TYPE}
_REF = re.compile(r"^\$([A-Za-z0-9_]+)\.Entity\.Identifier$")
PACKAGE_OPTION = "SageMakerModelPackageDeliveryOptionDetails"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(7)[:13]


@dataclass
class Entity:
    """A product or offer as the catalog keeps it (``details``: DescribeEntity's document)."""

    entity_id: str
    type: str
    details: dict[str, Any]
    revision: int = 1
    modified: str = field(default_factory=_now)

    def arn(self, region: str) -> str:
        """The entity's ARN."""
        kind = self.type.split("@", 1)[0]
        return f"arn:aws:aws-marketplace:{region}:{ACCOUNT}:AWSMarketplace/{kind}/{self.entity_id}"


def new_product(entity_id: str, details: dict[str, Any]) -> Entity:
    """A product as CreateProduct leaves it: a Draft with no version."""
    description: dict[str, Any] = {"Visibility": "Draft", "ProductState": "Draft"}
    if isinstance(details.get("ProductTitle"), str):
        description["ProductTitle"] = details["ProductTitle"]
    return Entity(entity_id, limits.PRODUCT_TYPE, {
        "Versions": [], "Description": description,
        "PromotionalResources": {"LogoUrl": None, "Videos": [], "AdditionalResources": []},
        "SupportInformation": {}, "Dimensions": [],
        "Targeting": {"PositiveTargeting": {"BuyerAccounts": []}},
    })


class Simulation:
    """The entities as they would be after the changes so far; every change is checked first."""

    def __init__(self, entities: dict[str, Entity], ctx: Context,
                 stand_ins: dict[str, dict[str, Any]] | None = None) -> None:
        self.entities = {k: copy.deepcopy(v) for k, v in entities.items()}
        self.ctx = ctx
        self.stand_ins = stand_ins or {}
        self.created: dict[str, str] = {}
        self.reviews: list[str] = []
        #: The entity the last step created or changed.
        self.last = ""
        self._packages: dict[str, dict[str, Any] | None] = {}

    # --- what the rules may read (smkit.listing.rules.Env)

    def package(self, arn: str) -> dict[str, Any] | None:
        """DescribeModelPackage through the lookup (once per ARN), or the listing's stand-in."""
        if self.ctx.lookup is None:
            return self.stand_ins.get(arn)
        if arn not in self._packages:
            self._packages[arn] = self.ctx.lookup(arn)
        return self._packages[arn]

    def resolve(self, identifier: str) -> str:
        """An entity ID from an ID, ``ID@revision`` or a ``$Name.Entity.Identifier``."""
        m = _REF.match(identifier)
        if m:
            return self.created.get(m.group(1), identifier)
        return identifier.split("@", 1)[0]

    def entity(self, identifier: str) -> tuple[str, dict[str, Any]] | None:
        """(type, details) of an entity, if it exists here."""
        found = self.entities.get(self.resolve(identifier))
        return (found.type, found.details) if found else None

    # --- running changes

    def _resolved(self, value: Any) -> Any:
        """The details with every ``$Name.Entity.Identifier`` replaced, as AWS does first."""
        if isinstance(value, dict):
            return {k: self._resolved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._resolved(v) for v in value]
        if isinstance(value, str) and _REF.match(value):
            return self.resolve(value)
        return value

    def run(self, changes: list[dict[str, Any]]) -> list[list[Violation]]:
        """Check and apply each change in order; one list of violations per change."""
        out = []
        for change in changes:
            out.append(self.step(change))
        return out

    def step(self, change: dict[str, Any]) -> list[Violation]:
        """Check one change against the entities so far, then apply it."""
        ct, etype = change["ChangeType"], change["Entity"]["Type"]
        details = self._resolved(change["Details"])
        if ct in CREATE:
            prefix = "prod-" if ct == "CreateProduct" else "offer-"
            entity_id = _new_id(prefix)
            if ct == "CreateProduct":
                entity = new_product(entity_id, details)
            else:
                product = details.get("ProductId")
                entity = Entity(entity_id, etype, {
                    "Id": entity_id, "State": "Draft", "Terms": [], "Rules": [],
                    "ProductId": product if isinstance(product, str) else None})
            errors, _ = check_change(etype, ct, details, entity.details, self)
            self.entities[entity_id] = entity
            self.last = entity_id
            if change.get("ChangeName"):
                self.created[change["ChangeName"]] = entity_id
            return errors
        entity = self.entities[self.resolve(change["Entity"]["Identifier"])]
        errors, learnt = check_change(etype, ct, details, entity.details, self)
        if not learnt["malformed"]:
            _apply(ct, details, entity, learnt, self)
        entity.modified = _now()
        self.last = entity.entity_id
        return errors


def _apply(ct: str, details: dict[str, Any], entity: Entity, learnt: dict[str, Any],
           sim: Simulation) -> None:
    """What a change does to the DescribeEntity document (applied even when it has errors, so
    later changes are checked against the intended state; a failed change set is discarded)."""
    d = entity.details
    if entity.type == limits.PRODUCT_TYPE:
        if ct == "UpdateVisibility" and details.get("TargetVisibility") == "Public":
            sim.reviews.append(entity.entity_id)
        _apply_product(ct, details, d, learnt)
    else:
        _apply_offer(ct, details, d)


def _apply_product(ct: str, details: dict[str, Any], d: dict[str, Any],
                   learnt: dict[str, Any]) -> None:
    if ct == "UpdateInformation":
        desc = d["Description"]
        for key in ("ProductTitle", "ShortDescription", "LongDescription", "Sku", "Highlights",
                    "SearchKeywords", "Categories"):
            if key in details:
                desc[key] = details[key]
        promo = d["PromotionalResources"]
        if "LogoUrl" in details:
            promo["LogoUrl"] = details["LogoUrl"]
        if "VideoUrls" in details:
            promo["Videos"] = [{"Type": "Link", "Url": u} for u in details["VideoUrls"] or []]
        if "AdditionalResources" in details:
            promo["AdditionalResources"] = [
                {"Type": "Link", "Text": r.get("Text"), "Url": r.get("Url")}
                for r in details["AdditionalResources"] or [] if isinstance(r, dict)]
        if "SupportDescription" in details:
            d["SupportInformation"] = {"Description": details["SupportDescription"]}
    elif ct == "AddDeliveryOptions":
        version = details.get("Version") or {}
        options = []
        sources = []
        for option in details.get("DeliveryOptions") or []:
            sm = ((option.get("Details") or {}).get(PACKAGE_OPTION)) or {}
            source_id = str(uuid.uuid4())
            sources.append({"Type": "SageMakerModelPackage", "Id": source_id,
                            "ModelPackageArn": sm.get("SageMakerModelPackageArn")})
            supported = learnt.get("supported") or {}
            options.append({
                "Id": str(uuid.uuid4()), "Type": "SageMakerModelPackage", "SourceId": source_id,
                "Title": "SageMaker Model", "Instructions": _instructions(sm, {}),
                "RecommendedInstanceTypes": dict(sm.get("RecommendedInstanceTypes") or {}),
                "SupportedInstanceTypes": supported, "Visibility": "Public"})
            _dimensions(d, supported)
        d["Versions"].append({
            "Id": str(uuid.uuid4()), "VersionTitle": version.get("VersionTitle"),
            "ReleaseNotes": version.get("ReleaseNotes"), "CreationDate": _now(),
            "Sources": sources, "DeliveryOptions": options})
    elif ct == "UpdateDeliveryOptions":
        version_details = details.get("Version") or {}
        for option in details.get("DeliveryOptions") or []:
            for version in d["Versions"]:
                for known in version["DeliveryOptions"]:
                    if known["Id"] != option.get("Id"):
                        continue
                    sm = ((option.get("Details") or {}).get(PACKAGE_OPTION)) or {}
                    known["Instructions"] = _instructions(sm, known["Instructions"])
                    if "RecommendedInstanceTypes" in sm:
                        known["RecommendedInstanceTypes"].update(sm["RecommendedInstanceTypes"])
                    for key in ("VersionTitle", "ReleaseNotes"):
                        if key in version_details:
                            version[key] = version_details[key]
    elif ct == "RestrictDeliveryOptions":
        wanted = set(details.get("DeliveryOptionIds") or [])
        for version in d["Versions"]:
            for option in version["DeliveryOptions"]:
                if option["Id"] in wanted:
                    option["Visibility"] = "Restricted"
    elif ct == "UpdateTargeting":
        accounts = (details.get("PositiveTargeting") or {}).get("BuyerAccounts") or []
        d["Targeting"] = {"PositiveTargeting": {"BuyerAccounts": list(accounts)}}
    elif ct == "UpdateVisibility":
        target = details.get("TargetVisibility")
        if isinstance(target, str) and target != "Public":
            d["Description"]["Visibility"] = target
    elif ct == "ReleaseProduct":
        d["Description"]["Visibility"] = "Limited"
        d["Description"]["ProductState"] = "Active"


def _instructions(sm: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out = dict(before)
    for src, dst in (("UsageInstructions", "Usage"), ("SampleNotebookUrl", "SampleNotebookUrl"),
                     ("RepositoryUrl", "RepositoryUrl"), ("InputProperties", "InputProperties"),
                     ("OutputProperties", "OutputProperties")):
        if src in sm:
            out[dst] = sm[src]
    return out


def _dimensions(d: dict[str, Any], supported: dict[str, list[str]]) -> None:
    """ML products get a pricing dimension per supported instance type, automatically."""
    keys = {dim["Key"] for dim in d["Dimensions"]}
    for mode, suffix, kind in (("RealtimeInference", limits.REALTIME_SUFFIX, "Hosting"),
                               ("BatchTransform", limits.BATCH_SUFFIX, "Batch")):
        for it in supported.get(mode) or []:
            key = f"{it}{suffix}"
            if key not in keys:
                d["Dimensions"].append({"Key": key, "Name": f"{it} {kind}",
                                        "Description": f"{it} {kind}", "Unit": "Hrs",
                                        "Types": ["ExternallyMetered"]})


def _apply_offer(ct: str, details: dict[str, Any], d: dict[str, Any]) -> None:
    replaces = {"UpdatePricingTerms": ("UsageBasedPricingTerm", "FreeTrialPricingTerm"),
                "UpdateLegalTerms": ("LegalTerm",), "UpdateSupportTerms": ("SupportTerm",)}
    if ct in replaces:
        kept = [t for t in d["Terms"] if t.get("Type") not in replaces[ct]]
        d["Terms"] = kept + [t for t in details.get("Terms") or [] if isinstance(t, dict)]
    elif ct == "UpdateInformation":
        for key in ("Name", "Description"):
            if key in details:
                d[key] = details[key]
    elif ct == "UpdateAvailability":
        d["Rules"] = [r for r in d["Rules"] if r.get("Type") != "AvailabilityRule"]
        d["Rules"].append({"Type": "AvailabilityRule",
                           "AvailabilityEndDate": details.get("AvailabilityEndDate")})
    elif ct == "ReleaseOffer":
        d["State"] = "Released"


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


def parse_changes(changes: list[Any], entities: dict[str, Entity],
                  locked: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The changes in a normalised form and the existing entities they lock; raise ApiError
    for what StartChangeSet refuses synchronously."""
    names: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    parsed = []
    targets: set[str] = set()
    for i, change in enumerate(changes):
        where = f"ChangeSet[{i}]"
        if not isinstance(change, dict):
            raise validation(f"{where} must be an object")
        ct, entity = change.get("ChangeType"), change.get("Entity") or {}
        etype = entity.get("Type")
        if etype not in CHANGE_TYPES:
            raise validation(f"{where}.Entity.Type {etype!r} is not supported; use "
                             f"{' or '.join(CHANGE_TYPES)}")
        if ct not in CHANGE_TYPES[etype]:
            raise validation(f"{where}.ChangeType {ct!r} does not apply to {etype}")
        if ("Details" in change) == ("DetailsDocument" in change):
            raise validation(f"{where} needs exactly one of Details and DetailsDocument")
        details = change.get("DetailsDocument")
        if "Details" in change:
            try:
                details = json.loads(change["Details"])
            except (TypeError, ValueError):
                raise validation(f"{where}.Details is not valid JSON") from None
        if not isinstance(details, dict):
            raise validation(f"{where} details must be a JSON object")
        ident = entity.get("Identifier")
        if ct in CREATE:
            if ident:
                raise validation(f"{where}: {ct} takes no Entity.Identifier")
        elif not ident:
            raise validation(f"{where}: {ct} needs Entity.Identifier")
        else:
            m = _REF.match(ident)
            if m:
                if m.group(1) not in names:
                    raise validation(f"{where}: {ident} does not name an earlier "
                                     "CreateProduct/CreateOffer change")
                if CREATE[names[m.group(1)]] != etype:
                    raise validation(f"{where}: {ident} is not a {etype}")
            else:
                target = entities.get(ident.split("@", 1)[0])
                if target is None or target.type != etype:
                    raise ApiError(404, "ResourceNotFoundException",
                                   f"{where}: entity {ident} of type {etype} not found")
                if locked(target.entity_id):
                    raise ApiError(423, "ResourceInUseException",
                                   f"entity {target.entity_id} is locked by a running "
                                   "change set")
                targets.add(target.entity_id)
            key = (ct, ident)
            if key in seen:
                raise validation(f"{where}: {ct} is already requested for {ident} in this "
                                 "change set")
            seen.add(key)
        name = change.get("ChangeName")
        if name:
            if name in names:
                raise validation(f"{where}: ChangeName {name} is used twice")
            names[name] = ct
        parsed.append({"ChangeType": ct, "Entity": {"Type": etype, "Identifier": ident},
                       "ChangeName": name, "Details": details})
    return parsed, sorted(targets)


class Catalog:
    """Entities and change sets, with the same calls and life cycle as the Catalog API."""

    def __init__(self, *, region: str = "us-east-1", delay: float = 0.3,
                 review_delay: float = 1.0, ctx: Context | None = None) -> None:
        self.region, self.delay, self.review_delay = region, delay, review_delay
        self.ctx = ctx or Context(seller_account=ACCOUNT, region=region)
        self.lock = threading.RLock()
        self.entities: dict[str, Entity] = {}
        self.change_sets: dict[str, ChangeSet] = {}
        self.tokens: dict[str, str] = {}

    # --- StartChangeSet

    def start_change_set(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check the request's shape now; schedule the rules and the changes."""
        self.check_catalog(body.get("Catalog"))
        intent = body.get("Intent", "APPLY")
        if intent not in ("VALIDATE", "APPLY"):
            raise validation(f"Intent must be VALIDATE or APPLY, got {intent!r}")
        if not isinstance(body.get("ChangeSet"), list):
            raise validation("ChangeSet must be a list of changes")
        check_request(body)
        token = body.get("ClientRequestToken")
        with self.lock:
            if token and token in self.tokens:
                return self.ids(self.change_sets[self.tokens[token]])
            parsed, targets = parse_changes(body["ChangeSet"], self.entities, self.locked)
            cs = ChangeSet(cs_id=uuid.uuid4().hex[:25], name=body.get("ChangeSetName"),
                           intent=intent, changes=parsed, entity_ids=targets)
            self.change_sets[cs.cs_id] = cs
            if token:
                self.tokens[token] = cs.cs_id
        threading.Timer(self.delay, self._prepare, args=(cs.cs_id,)).start()
        return self.ids(cs)

    def check_catalog(self, catalog: Any) -> None:
        """Only the AWSMarketplace catalog exists."""
        if catalog != limits.CATALOG:
            raise validation(f"Catalog must be {limits.CATALOG}, got {catalog!r}")

    def ids(self, cs: ChangeSet) -> dict[str, Any]:
        """ChangeSetId and ChangeSetArn."""
        return {"ChangeSetId": cs.cs_id,
                "ChangeSetArn": f"arn:aws:aws-marketplace:{self.region}:{ACCOUNT}:"
                                f"AWSMarketplace/ChangeSet/{cs.cs_id}"}

    def locked(self, entity_id: str) -> bool:
        """True while a running change set holds the entity."""
        return any(cs.status in ("PREPARING", "APPLYING") and entity_id in cs.entity_ids
                   for cs in self.change_sets.values())

    # --- the asynchronous part

    def _simulate(self, cs: ChangeSet) -> tuple[Simulation, list[list[Violation]]]:
        sim = Simulation(self.entities, self.ctx)
        errors = []
        for i, change in enumerate(cs.changes):
            errors.append(sim.step(change))
            cs.resolved[i] = sim.last
        return sim, errors

    def _prepare(self, cs_id: str) -> None:
        with self.lock:
            cs = self.change_sets[cs_id]
            if cs.status != "PREPARING":
                return
            sim, errors = self._simulate(cs)
            cs.errors = [[error_detail(v) for v in e] for e in errors]
            if any(errors):
                self.finish(cs, "FAILED", "CLIENT_ERROR",
                             "One or more changes failed validation; see ErrorDetailList")
                return
            if cs.intent == "VALIDATE":
                cs.resolved.clear()
                self.finish(cs, "SUCCEEDED")
                return
            cs.entity_ids = sorted(set(cs.resolved.values()))
            cs.status = "APPLYING"
        threading.Timer(self.delay, self._apply, args=(cs_id, sim)).start()

    def _apply(self, cs_id: str, sim: Simulation) -> None:
        with self.lock:
            cs = self.change_sets[cs_id]
            for entity_id in cs.entity_ids:
                self.entities[entity_id] = sim.entities[entity_id]
            if not sim.reviews:
                self.finish(cs, "SUCCEEDED")
                return
        # Going Public is reviewed: the change set stays APPLYING, the product Limited.
        threading.Timer(self.review_delay, self._review, args=(cs_id, sim.reviews)).start()

    def _review(self, cs_id: str, products: list[str]) -> None:
        with self.lock:
            for entity_id in products:
                if entity_id in self.entities:
                    self.entities[entity_id].details["Description"]["Visibility"] = "Public"
            self.finish(self.change_sets[cs_id], "SUCCEEDED")

    def finish(self, cs: ChangeSet, status: str, code: str | None = None,
                description: str | None = None) -> None:
        cs.status, cs.end = status, _now()
        cs.failure_code, cs.failure_description = code, description
