"""Reading and checking ``listing.yaml``: its schema and smkit's rules (``model``), then AWS's.

``load_listing`` (and ``parse_listing`` for data already read) report every problem at once.
For AWS's half the listing is turned into the StartChangeSet request ``publish`` would send,
and that request goes through the same rules and the same simulated catalog as the Catalog
emulator (``smkit.listing.rules.simulation.Simulation``). Each violation is reported under the
``listing.yaml`` field it came from, with the rule, its limit and the actual value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from smkit.core import arns
from smkit.core.errors import UserError
from smkit.core.yamlfile import load_yaml
from smkit.listing.changesets import Samples, build_request, read_samples
from smkit.listing.fields import FIELDS, SAME_FIELDS, SECTIONS, lookup
from smkit.listing.model import PLACEHOLDER, Listing, format_errors, listing_rules, placeholders
from smkit.listing.publish import client_request_token
from smkit.listing.rules import Context, Violation, request_violations
from smkit.listing.rules.simulation import Entity, Simulation

#: What a listing.yaml field holds beyond the seller's own text, said once in the message.
NOTES = {f.yaml: f.note for f in FIELDS if f.note}


def yaml_field(change_type: str, where: str) -> str:
    """The listing.yaml field a place in a change's details comes from (``fields.FIELDS``
    read backwards), else the listing.yaml section the change type comes from."""
    # The field a violation is under may include a trailing [i] the listing does not have
    # (AddDeliveryOptions' one option is always DeliveryOptions[0]).
    found = lookup(change_type, where)
    if found is not None:
        return found[1]
    return SECTIONS.get(SAME_FIELDS.get(change_type, change_type),
                        f"(change set) {change_type}")


def changes_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's changes in the form the simulated catalog takes."""
    out = []
    for change in request["ChangeSet"]:
        details = change.get("DetailsDocument")
        if details is None:
            details = json.loads(change.get("Details") or "{}")
        out.append({"ChangeType": change["ChangeType"],
                    "Entity": {"Type": change["Entity"]["Type"],
                               "Identifier": change["Entity"].get("Identifier")},
                    "ChangeName": change.get("ChangeName"), "Details": details})
    return out


def check_request(request: dict[str, Any], ctx: Context,
                  stand_ins: dict[str, dict[str, Any]] | None = None,
                  entities: dict[str, Entity] | None = None) -> list[tuple[str, Violation]]:
    """Every rule over a whole StartChangeSet request, for a catalog that starts empty (or
    holds ``entities``: entity ID -> ``Entity``).

    Returns (change type, violation) pairs; the request's own limits come as ("Request", v).
    """
    # The service model bounds the Details string; a DetailsDocument has no documented maximum.
    texts = [change["Details"] if isinstance(change.get("Details"), str) else ""
             for change in request["ChangeSet"]]
    out: list[tuple[str, Violation]] = [("Request", v)
                                        for v in request_violations(request, texts)]
    changes = changes_of(request)
    sim = Simulation(entities or {}, ctx, stand_ins)
    for change, found in zip(changes, sim.run(changes), strict=True):
        out += [(change["ChangeType"], v) for v in found]
    return out


def stand_in_package(listing: Listing) -> dict[str, Any]:
    """What the rules assume the model package says when it is not read (no --against-package)."""
    sup = listing.delivery.supported_instance_types
    return {"CertifyForMarketplace": True, "InferenceSpecification": {
        "SupportedRealtimeInferenceInstanceTypes": list(sup.realtime),
        "SupportedTransformInstanceTypes": list(sup.batch)}}


def listing_context(listing: Listing) -> Context:
    """The seller as the listing shows it: the model package's account and region."""
    parts = arns.split(listing.delivery.model_package_arn)
    if parts is not None:
        return Context(seller_account=parts.account or None, region=parts.region or None)
    return Context()


def aws_problems(listing: Listing, base_dir: Path | None, ctx: Context | None) -> list[str]:
    """Every AWS rule the listing's change set breaks, as ``yaml.field: message`` lines."""
    problems: list[str] = []
    if base_dir is None:
        samples = Samples("1", "1")
    else:
        try:
            samples = read_samples(listing, base_dir)
        except UserError as e:
            problems.append(str(e))
            samples = Samples("1", "1")
    request = build_request(listing, samples, release=True, product_id=None, offer_id=None)
    request["ClientRequestToken"] = client_request_token(request, "APPLY")
    ctx = ctx or listing_context(listing)
    stand_ins = {listing.delivery.model_package_arn: stand_in_package(listing)}
    for change_type, v in check_request(request, ctx, stand_ins):
        field = "(change set)" if change_type == "Request" else yaml_field(change_type, v.where)
        problems.append(f"{field}: {v.message}{NOTES.get(field, '')}")
    return problems


def parse_listing(data: Any, source: str = "listing.yaml", *, base_dir: Path | None = None,
                  ctx: Context | None = None) -> Listing:
    """Validate already-parsed YAML; raise UserError naming every failing field at once.

    With ``base_dir`` the sample files are read from there; without, the AWS rules that look
    at samples are checked by ``load_listing`` (which knows where the files are). ``ctx``
    lets the rules read the live model package.
    """
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping at the top level")
    todo = placeholders(data)
    problems: list[str] = []
    try:
        listing = Listing.model_validate(data)
    except ValidationError as e:
        problems = format_errors(e)
    else:
        problems = listing_rules(listing)
        problems += [p for p in aws_problems(listing, base_dir, ctx)
                     if p.split(":", 1)[0] not in todo]
    problems += [f"{p}: still holds the {PLACEHOLDER} placeholder from `smkit listing init`"
                 for p in todo]
    if problems:
        raise UserError(f"{source} is not valid ({len(problems)} problem"
                        f"{'s' if len(problems) != 1 else ''}):\n  " + "\n  ".join(problems))
    return listing


def load_listing(path: Path, ctx: Context | None = None) -> Listing:
    """Read and validate ``listing.yaml`` and its sample files."""
    data = load_yaml(path, what="listing file", missing="write one with `smkit listing init`")
    return parse_listing(data, str(path), base_dir=path.parent, ctx=ctx)
