"""A second oracle for Catalog API change sets, from AWS's own published schemas (importable
as ``catalog_oracle`` by every test folder; no fixtures here).

It shares no code with ``smkit.listing.rules`` (nothing from smkit is imported). It is:
- the change-type JSON Schemas in ``listing/catalog_schemas/``, written by
  ``scripts/catalog_schemas.py`` from the generated models of
  awslabs/aws-marketplace-catalog-api-shapes-for-python (the commit is in
  ``catalog_schemas/SOURCE.json``), checked with ``jsonschema``;
- botocore's marketplace-catalog service model for StartChangeSet itself: botocore's
  ParamValidator (required members, types, minimums) plus the model's ``max``, ``pattern`` and
  ``enum`` facts, which ParamValidator does not check.

``oracle`` judges one request. ``disagreement`` sets its verdict against smkit's (the rule
engine's, as the Catalog emulator or ``listing check`` gives it): an engine that accepts what
the oracle refuses always disagrees; an engine that refuses what the oracle accepts disagrees
unless each rule it names is in ``SILENT`` (the published shapes are silent on it) or cites a
document other than the published shapes. ``Watch`` reads every change set a Catalog emulator
holds, once each, and judges it so.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.validate import ParamValidator
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).parent / "listing" / "catalog_schemas"
REFERENCE = re.compile(r"^\$([A-Za-z0-9_-]+)\.Entity\.Identifier$")
#: A syntactically valid identifier per entity type, put where a change set chains to an
#: earlier change ($Name.Entity.Identifier is resolved by AWS before the details are checked).
RESOLVED = {"MachineLearningProduct@1.0": "prod-abcdefghijklm",
            "Offer@1.0": "offer-abcdefghijklm"}
#: botocore patterns that AWS's own documented requests break, so they are not checked:
#: Entity.Type ^[a-zA-Z]+$ (the documented type is "MachineLearningProduct@1.0"),
#: Entity.Identifier ^[\w\-@]+$ ("$CreateProduct.Entity.Identifier" chaining) and
#: ChangeName ^[a-zA-Z]$ (one letter; the documented examples use whole words).
UNENFORCED_PATTERNS = {"Type", "Identifier", "ChangeName"}
#: The documents a rule cites when it is typed from the published shapes (test_rules.py's ML,
#: OFFER and BOTO sources). A rule citing anything else is smkit's own (GUIDE, ML_API): the
#: shapes cannot judge it, so the oracle accepting what it refuses is no disagreement.
SHAPE_DOCUMENTS = frozenset({
    "MachineLearningProduct@1.0 change-type schema",
    "Offer@1.0 change-type schema (appendix shapes)",
    "botocore marketplace-catalog service model (StartChangeSet)",
})
#: A rule id in a message (ids hold "[]" but no spaces).
RULE_IN = re.compile(r"\[rule (\S+)\]")

#: Rules test_rules.py cites to a published shape (ML, OFFER, BOTO) that the generated models
#: and botocore's model do not hold: the oracle accepts what they refuse. Each is a known
#: disagreement, listed so that it stays visible; test_schema_oracle fails when the oracle
#: starts to agree, so the list only shrinks.
SILENT: frozenset[str] = frozenset({
    # The generated MachineLearningProduct models mark these optional (or only describe them as
    # deprecated), where the rule engine cites the ML schema for "required"/"absent".
    "Product.UpdateInformation.AssociatedProducts.absent",
    "Product.AddDeliveryOptions.DeliveryOptions[].Details.required",
    "Product.AddDeliveryOptions.DeliveryOptions[].Details."
    "SageMakerModelPackageDeliveryOptionDetails.required",
    "Product.UpdateDeliveryOptions.DeliveryOptions.required",
    # Facts across changes or entities, which no per-change shape can hold.
    "Offer.CreateOffer.ProductId.exists",
    "Offer.UpdatePricingTerms.Terms[].Type.unique",
    "Offer.UpdatePricingTerms.Terms.usage_term",
    "Offer.UpdatePricingTerms.Terms[].Grants[].DimensionKey.priced",
    # AWS's offer_1_0 appendix shapes: the generated Offer models type Term as optional
    # strings and lists with no enums, lengths, counts or patterns.
    *(f"Offer.UpdatePricingTerms.Terms[].{rest}" for rest in (
        "CurrencyCode.enum", "RateCards.min_items", "RateCards.max_items",
        "RateCards[].RateCard.required", "RateCards[].RateCard.min_items",
        "RateCards[].RateCard.max_items", "RateCards[].RateCard[].DimensionKey.min_length",
        "RateCards[].RateCard[].DimensionKey.max_length", "RateCards[].RateCard[].Price.pattern",
        "Duration.pattern", "Grants.min_items", "Grants.max_items",
        "Grants[].DimensionKey.required", "Grants[].DimensionKey.min_length",
        "Grants[].DimensionKey.max_length")),
    *(f"Offer.UpdateLegalTerms.Terms[].{rest}" for rest in (
        "Type.enum", "Documents.min_items", "Documents.max_items", "Documents[].Type.enum",
        "Documents[].Url.max_length", "Documents[].Version.enum",
        "Documents[CustomEula].Url.required", "Documents[StandardEula].Version.required")),
    *(f"Offer.UpdateSupportTerms.Terms[].{rest}" for rest in (
        "Type.enum", "RefundPolicy.min_length", "RefundPolicy.max_length",
        "RefundPolicy.charset")),
})


# ----------------------------------------------------------------------------- the oracle

@cache
@cache
def change_type_validator(entity_type: str, change_type: str) -> Draft202012Validator | None:
    """The published schema of one change type's details, or None when there is none (read
    once per session: every judged change set asks again)."""
    path = SCHEMAS / entity_type.replace("@", "_") / f"{change_type}.json"
    if not path.exists():
        return None
    return Draft202012Validator(json.loads(path.read_text()))


@cache
def _start_change_set() -> Any:
    model = botocore.session.get_session().get_service_model("marketplace-catalog")
    return model.operation_model("StartChangeSet").input_shape


def _model_facts(value: Any, shape: Any, where: str) -> list[str]:
    """The service model's max, pattern and enum facts (ParamValidator checks none of them)."""
    out: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                out += _model_facts(value[name], member, f"{where}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{where}: {len(value)} items, more than {meta['max']}")
        for i, item in enumerate(value):
            out += _model_facts(item, shape.member, f"{where}[{i}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{where}: {len(value)} characters, more than {meta['max']}")
        if ("pattern" in meta and where.rsplit(".", 1)[-1] not in UNENFORCED_PATTERNS
                and not re.fullmatch(meta["pattern"], value)):
            out.append(f"{where}: does not match {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            out.append(f"{where}: {value!r} not one of {shape.enum}")
    return out


def _resolved(node: Any, entity_types: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _resolved(v, entity_types) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolved(v, entity_types) for v in node]
    if isinstance(node, str) and (m := REFERENCE.match(node)) and m.group(1) in entity_types:
        return RESOLVED.get(entity_types[m.group(1)], node)
    return node


def oracle(request: dict[str, Any]) -> list[str]:
    """What AWS's published schemas say is wrong with this StartChangeSet request ([] if
    nothing)."""
    shape = _start_change_set()
    found: list[str] = []
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        found.append(f"StartChangeSet: {report.generate_report()}")
    found += _model_facts(request, shape, "StartChangeSet")
    changes = request.get("ChangeSet") or []
    names = {c["ChangeName"]: c.get("Entity", {}).get("Type", "") for c in changes
             if isinstance(c, dict) and "ChangeName" in c}
    for i, change in enumerate(changes):
        if not isinstance(change, dict):
            continue
        entity_type, change_type = change.get("Entity", {}).get("Type"), change.get("ChangeType")
        details = change.get("DetailsDocument")
        if details is None and isinstance(change.get("Details"), str):
            details = json.loads(change["Details"])
        validator = change_type_validator(str(entity_type), str(change_type))
        if validator is None:
            found.append(f"ChangeSet[{i}]: no published schema for {entity_type} {change_type}")
            continue
        for error in validator.iter_errors(_resolved(details or {}, names)):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
            found.append(f"ChangeSet[{i}] {change_type}{path}: {error.message[:200]}")
    return found


# ----------------------------------------------------------------------------- two verdicts

def verdict(found: list[str]) -> str:
    """A verdict in words: ``accepts``, or ``rejects: <what was found>``."""
    return "accepts" if not found else "rejects: " + "; ".join(found)


def disagreement(request: dict[str, Any], engine: str, refused: list[str],
                 cited: Mapping[str, str], found: list[str] | None = None) -> str | None:
    """None when the oracle agrees with ``engine`` (which refused with the messages
    ``refused``, [] when it accepted); else both verdicts in one sentence.

    ``cited`` maps each rule id to the document it cites (``Rule.source``); ``found`` is the
    oracle's verdict when the caller has it already.
    """
    found = oracle(request) if found is None else found
    if not refused and found:
        return f"{engine}: accepts; oracle (AWS's published schemas): {verdict(found)}"
    if refused and not found:
        rules = [m.group(1) for text in refused for m in RULE_IN.finditer(text)]
        unexcused = [r for r in rules if r not in SILENT and cited.get(r) in SHAPE_DOCUMENTS]
        uncited = [r for r in rules if not (cited.get(r) or "").strip()]
        if unexcused or uncited or not rules:
            why = (f"rules typed from the published shapes and not in SILENT: {unexcused}"
                   if unexcused else f"rules that cite no document: {uncited}" if uncited
                   else "no rule named")
            return (f"{engine}: {verdict(refused)}; oracle (AWS's published schemas): accepts "
                    f"({why})")
    return None


# ----------------------------------------------------------------------------- the emulator

#: How long a change set may stay PREPARING (its rules not yet run) before it is judged.
PREPARE_DEADLINE_S = 15.0


@dataclass
class Checked:
    """One change set read from a Catalog emulator, with both verdicts."""

    where: str
    cs_id: str
    name: str
    status: str
    request: dict[str, Any]
    refused: list[str]
    found: list[str]
    disagreement: str | None

    def describe(self) -> str:
        """Which change set this is, for a failure message."""
        kinds = ", ".join(c["ChangeType"] for c in self.request["ChangeSet"])
        return (f"change set {self.cs_id} ({self.name or 'no name'}, "
                f"Intent {self.request.get('Intent')}, {self.status}: {kinds}) on {self.where}")


def request_of(described: dict[str, Any]) -> dict[str, Any]:
    """The StartChangeSet request a DescribeChangeSet answer was started with, as far as the
    answer shows it (no ClientRequestToken or tags; the details as a DetailsDocument)."""
    changes = []
    for change in described["ChangeSet"]:
        details = change.get("DetailsDocument")
        if details is None:
            details = json.loads(change.get("Details") or "{}")
        entity = {k: v for k, v in change["Entity"].items() if k in ("Type", "Identifier")}
        out: dict[str, Any] = {"ChangeType": change["ChangeType"], "Entity": entity,
                               "DetailsDocument": details}
        if change.get("ChangeName"):
            out["ChangeName"] = change["ChangeName"]
        changes.append(out)
    request: dict[str, Any] = {"Catalog": "AWSMarketplace", "ChangeSet": changes,
                               "Intent": described.get("Intent", "APPLY")}
    if described.get("ChangeSetName"):
        request["ChangeSetName"] = described["ChangeSetName"]
    return request


def refusals(described: dict[str, Any]) -> list[str]:
    """The emulator's verdict: every ErrorDetailList entry of a FAILED change set."""
    return [f"{e['ErrorCode']}: {e['ErrorMessage']}" for change in described["ChangeSet"]
            for e in change.get("ErrorDetailList") or []]


@dataclass
class Watch:
    """Every change set on the Catalog emulators it is shown, read and judged once each."""

    cited: Mapping[str, str]
    checked: list[Checked] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict)
    _clients: dict[str, Any] = field(default_factory=dict)

    def _client(self, url: str) -> Any:
        if url not in self._clients:
            self._clients[url] = boto3.client(
                "marketplace-catalog", endpoint_url=url, region_name="us-east-1",
                aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._clients[url]

    def _new_ids(self, url: str, key: str) -> list[str]:
        # The emulator's NextToken is the index of the next change set in the order they
        # were started (catalog.py, Api._page), so the listing starts past those seen before.
        client, ids = self._client(url), []
        token: str | None = str(self._counts.get(key, 0))
        while token is not None:
            page = client.list_change_sets(Catalog="AWSMarketplace", MaxResults=20,
                                           NextToken=token)
            ids += [s["ChangeSetId"] for s in page["ChangeSetSummaryList"]]
            token = page.get("NextToken")
        self._counts[key] = self._counts.get(key, 0) + len(ids)
        return ids

    def new(self, url: str, key: str | None = None) -> list[Checked]:
        """Every change set started on the emulator at ``url`` since the last call, judged
        by both engines once its rules have run. ``key`` names the emulator when a later one
        may get the same URL (a port used again)."""
        client, out = self._client(url), []
        for cs_id in self._new_ids(url, key or url):
            start = time.monotonic()
            while True:
                d = client.describe_change_set(Catalog="AWSMarketplace", ChangeSetId=cs_id)
                if d["Status"] != "PREPARING" or time.monotonic() - start > PREPARE_DEADLINE_S:
                    break
                time.sleep(0.05)
            request = request_of(d)
            refused = refusals(d) if d["Status"] == "FAILED" else []
            found = oracle(request)
            judged = disagreement(request, "emulator", refused, self.cited, found)
            if d["Status"] == "PREPARING":
                judged = (f"emulator: no verdict (still PREPARING after "
                          f"{PREPARE_DEADLINE_S:.0f} s); oracle: {verdict(found)}")
            checked = Checked(f"the Catalog emulator at {url}", cs_id,
                              d.get("ChangeSetName", ""), d["Status"], request, refused, found,
                              judged)
            self.checked.append(checked)
            out.append(checked)
        return out


def written_requests(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every JSON file under ``root`` that holds a StartChangeSet request."""
    out = []
    for path in sorted(root.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("ChangeSet"), list) \
                and "Catalog" in data:
            out.append((path, data))
    return out


def failures(checked: list[Checked]) -> list[str]:
    """One paragraph per change set on which the two engines disagree."""
    return [f"{c.describe()}: the engines disagree.\n  {c.disagreement}"
            for c in checked if c.disagreement]
