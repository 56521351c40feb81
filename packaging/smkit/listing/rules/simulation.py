"""A catalog's entities as they would be after a change set, every change checked first.

``Simulation`` runs the changes of a StartChangeSet request, in order, against a copy of the
entities: each change goes through the shared rule set (:func:`check_change`), then is applied
to the DescribeEntity documents so later changes are checked against the intended state.
``listing check`` runs a listing's change set through it in memory; the Catalog emulator
(``smkit.emulators.catalog_state``) runs every change set it prepares through it.

Entities are kept in the shape DescribeEntity returns: a product has ``Versions[]`` whose
``DeliveryOptions[]`` carry ``Id``s, ``Description`` (with ``Visibility``),
``PromotionalResources`` (logo, videos, additional resources), ``SupportInformation`` and
``Targeting``; an offer has ``ProductId``, ``State`` and all its ``Terms``.
"""

from __future__ import annotations

import copy
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smkit.listing import limits
from smkit.listing.rules import Context, Violation, check_change
from smkit.listing.rules.cross import PACKAGE_OPTION

#: The change types that create an entity, and the entity type each creates.
CREATE = {"CreateProduct": limits.PRODUCT_TYPE, "CreateOffer": limits.OFFER_TYPE}
#: A reference to an entity an earlier change of the same change set creates.
ENTITY_REF = re.compile(r"^\$([A-Za-z0-9_]+)\.Entity\.Identifier$")


def now() -> str:
    """The current time as the Catalog API writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id(prefix: str) -> str:
    """A new entity ID (``prod-...``, ``offer-...``)."""
    return prefix + secrets.token_hex(7)[:13]


@dataclass
class Entity:
    """A product or offer as the catalog keeps it (``details``: DescribeEntity's document)."""

    entity_id: str
    type: str
    details: dict[str, Any]
    revision: int = 1
    modified: str = field(default_factory=now)

    def arn(self, region: str, account: str) -> str:
        """The entity's ARN in ``account``'s catalog."""
        kind = self.type.split("@", 1)[0]
        return f"arn:aws:aws-marketplace:{region}:{account}:AWSMarketplace/{kind}/{self.entity_id}"


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
        m = ENTITY_REF.match(identifier)
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
        if isinstance(value, str) and ENTITY_REF.match(value):
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
            entity_id = new_id(prefix)
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
        entity.modified = now()
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
            "ReleaseNotes": version.get("ReleaseNotes"), "CreationDate": now(),
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
