"""The one rule set of AWS Marketplace ML listings, used by ``listing check`` and the emulator.

``shapes`` holds the field rules of every change type as data, ``cross`` the rules that look
across fields, at the model package or at the product so far, ``engine`` how they are applied.
``check_change`` is the entry point: one change's details in, its violations out.
``simulation`` runs a whole change set through it against a catalog's entities (imported on
its own: it builds on this package).
"""

from __future__ import annotations

from typing import Any

from smkit.listing.rules import cross
from smkit.listing.rules.cross import Context, Env, PackageLookup, PackageLookupError
from smkit.listing.rules.engine import Rule, Violation, check_spec
from smkit.listing.rules.shapes import BY_ENTITY

__all__ = ["Context", "Env", "PackageLookup", "PackageLookupError", "Rule", "Violation",
           "all_rules", "change_types", "check_change", "request_violations"]

request_violations = cross.request_violations


def change_types() -> dict[str, set[str]]:
    """Entity type -> the change types the rule set knows."""
    return {entity: set(changes) for entity, changes in BY_ENTITY.items()}


def all_rules() -> list[Rule]:
    """Every rule: the field rules of each change type, then the cross-field rules."""
    out = [rule for changes in BY_ENTITY.values() for c in changes.values()
           for rule, _ in c.rules()]
    return out + list(cross.CROSS_RULES)


def field_violations(entity_type: str, change_type: str,
                     details: dict[str, Any]) -> list[Violation]:
    """The data rules of one change type applied to its details."""
    spec = BY_ENTITY.get(entity_type, {}).get(change_type)
    if spec is None:
        return []
    return check_spec(spec, details, cross.TYPE)


def check_change(entity_type: str, change_type: str, details: dict[str, Any],
                 entity: dict[str, Any], env: Env) -> tuple[list[Violation], dict[str, Any]]:
    """Every rule of one change, against ``entity`` (its DescribeEntity details so far).

    Returns the violations and what the rules learnt on the way (``supported``: the model
    package's instance types, for AddDeliveryOptions; ``malformed``: a field has the wrong
    JSON type, so the change cannot be applied).
    """
    out = field_violations(entity_type, change_type, details)
    learnt: dict[str, Any] = {"malformed": any(v.rule is cross.TYPE for v in out)}
    if learnt["malformed"]:
        return out, learnt  # the other rules assume the schema's types
    if entity_type == cross.PRODUCT_TYPE:
        if change_type == "AddDeliveryOptions":
            errs, supported = cross.add_delivery_options(details, entity, env)
            out += errs
            learnt["supported"] = supported
        elif change_type == "UpdateDeliveryOptions":
            out += cross.update_delivery_options(details, entity, env)
        elif change_type == "RestrictDeliveryOptions":
            out += cross.restrict_delivery_options(details, entity)
        elif change_type == "UpdateVisibility":
            out += cross.update_visibility(details, entity)
        elif change_type == "ReleaseProduct":
            out += cross.release_product(entity)
    elif entity_type == cross.OFFER_TYPE:
        if change_type == "CreateOffer":
            out += cross.create_offer(details, env)
        elif change_type == "UpdatePricingTerms":
            out += cross.update_pricing_terms(details, entity, env)
        elif change_type == "UpdateLegalTerms":
            out += cross.update_legal_terms(details)
        elif change_type == "ReleaseOffer":
            out += cross.release_offer(entity)
    return out, learnt
