"""The Catalog emulator's state machine: entities, change sets and their life cycle.

Entities are kept as ``smkit.listing.rules.simulation.Entity`` (DescribeEntity's shape).
A change set goes PREPARING -> APPLYING -> SUCCEEDED, or FAILED with an ErrorDetailList per
change, or CANCELLED while PREPARING. While PREPARING, the listing layer's ``Simulation`` runs
the changes against a copy of the entities, checking each with the shared rule set first;
``listing check`` uses the same simulation, in memory. A request to make a product Public is
reviewed, as AWS does: the change set stays APPLYING and the product stays Limited until the
review ends.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from smkit.emulators.catalog_rules import ApiError, check_request, error_detail, validation
from smkit.listing import limits
from smkit.listing.rules import Context, Violation, change_types
from smkit.listing.rules.simulation import CREATE, ENTITY_REF, Entity, Simulation, now

ACCOUNT = "123456789012"
CHANGE_TYPES = change_types()


@dataclass
class ChangeSet:
    """A submitted change set and where it stands."""

    cs_id: str
    name: str | None
    intent: str
    changes: list[dict[str, Any]]
    status: str = "PREPARING"
    start: str = field(default_factory=now)
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
            m = ENTITY_REF.match(ident)
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
        cs.status, cs.end = status, now()
        cs.failure_code, cs.failure_description = code, description
