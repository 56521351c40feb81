"""The second oracle for change sets (``catalog_oracle``, from AWS's own published schemas)
against smkit.

The oracle shares no code with ``smkit.listing.rules``: it is described in
``tests/catalog_oracle.py``. Here: its schemas name their source; it can refuse; every change
set smkit builds from the test listings and every valid case of ``test_rules.py`` passes it; it
agrees with the rule engine on every shape case test_rules.py rejects, except the ones in
``SILENT`` where the published shapes are silent; and the way two verdicts are set against each
other (which the listing conftest applies after every test to each change set left on a Catalog
emulator or written by ``listing render``) fails when they disagree.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from catalog_oracle import (
    SCHEMAS,
    SHAPE_DOCUMENTS,
    SILENT,
    Watch,
    change_type_validator,
    disagreement,
    failures,
    oracle,
    written_requests,
)
from jsonschema import Draft202012Validator
from listing_kit import Server, create_package, valid_data, wait_change_set, write_listing
from smkit.cli import main
from smkit.listing.changesets import Samples, build_request
from smkit.listing.rules import all_rules
from smkit.listing.validate import parse_listing
from test_rules import BOTO, CASES, GUIDE, ML, ML_API, OFFER, RANDOM_ID, VALID, Case, base

SAMPLES = Samples("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3", "0\n2")
CITED = {r.id: r.source for r in all_rules()}


# ----------------------------------------------------------------------------- the schemas

def test_the_schemas_name_their_source_and_cover_every_change_type_smkit_sends() -> None:
    source = json.loads((SCHEMAS / "SOURCE.json").read_text())
    assert source["repository"].endswith("awslabs/aws-marketplace-catalog-api-shapes-for-python")
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert source["files"]
    for change_type in ("CreateProduct", "UpdateInformation", "AddDeliveryOptions",
                        "UpdateDeliveryOptions", "RestrictDeliveryOptions", "UpdateTargeting",
                        "UpdateVisibility", "ReleaseProduct"):
        assert change_type_validator("MachineLearningProduct@1.0", change_type), change_type
    for change_type in ("CreateOffer", "UpdatePricingTerms", "UpdateLegalTerms",
                        "UpdateSupportTerms", "UpdateAvailability", "ReleaseOffer"):
        assert change_type_validator("Offer@1.0", change_type), change_type
    for path in SCHEMAS.glob("*/*.json"):
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_the_oracle_can_refuse() -> None:
    changes = base()
    changes[1]["DetailsDocument"]["ProductTitle"] = "T" * 73
    changes[2]["DetailsDocument"]["Version"]["Extra"] = 1
    found = oracle({"Catalog": "AWSMarketplace", "ChangeSet": changes, "Intent": "NOW"})
    assert any("ProductTitle" in f and "too long" in f for f in found), found
    assert any("Extra" in f for f in found), found
    assert any("Intent" in f for f in found), found


# ----------------------------------------------------------------------------- smkit's change sets

def _listing(**changes: Any) -> dict[str, Any]:
    data = valid_data()
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    return data


LISTINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "new hourly product": (_listing(), {}),
    "released": (_listing(), {"release": True}),
    "per inference": (_listing(delivery__metering="per-inference", pricing={
        "model": "per-inference", "per_inference": "0.0015",
        "batch": {"ml.m5.large": "0.40"}}), {}),
    "free": (_listing(pricing={"model": "free"}), {}),
    "existing product, custom EULA": (
        _listing(eula={"type": "custom", "url": "https://example.com/eula.pdf"}),
        {"release": True, "product_id": "prod-abcdefghijklm",
         "offer_id": "offer-abcdefghijklm"}),
    "existing version updated": (_listing(), {"product_id": "prod-abcdefghijklm",
                                              "offer_id": "offer-abcdefghijklm",
                                              "delivery_option_id": RANDOM_ID}),
    "private": (_listing(visibility="Private", buyer_accounts=["111122223333"]),
                {"release": True}),
}


@pytest.mark.parametrize("name", list(LISTINGS))
def test_every_change_set_smkit_builds_from_the_test_listings_passes_the_oracle(
        name: str) -> None:
    data, kwargs = LISTINGS[name]
    request = build_request(parse_listing(copy.deepcopy(data)), SAMPLES, **kwargs)
    assert oracle(request) == []


def test_listing_render_output_passes_the_oracle(tmp_path: Path) -> None:
    path = write_listing(tmp_path, valid_data())
    out = tmp_path / "changeset.json"
    assert main(["listing", "render", str(path), "--out", str(out), "--release"]) == 0
    assert oracle(json.loads(out.read_text())) == []


# ----------------------------------------------------------------------------- test_rules.py

@pytest.mark.parametrize("name", list(VALID))
def test_every_valid_rule_case_passes_the_oracle(name: str) -> None:
    changes = base()
    VALID[name](changes)
    assert oracle({"Catalog": "AWSMarketplace", "ChangeSet": changes,
                   "Intent": "VALIDATE"}) == []


FAKE_IDS = {"product": "prod-abcdefghijklm", "offer": "offer-abcdefghijklm",
            "option": RANDOM_ID}


def _case_request(case: Case) -> dict[str, Any]:
    if case.request is not None:
        return case.request()
    if case.existing is not None:
        changes = case.existing(FAKE_IDS)
    else:
        changes = base()
        assert case.mutate is not None
        case.mutate(changes)
    return {"Catalog": "AWSMarketplace", "ChangeSet": changes, "Intent": "VALIDATE"}


SHAPE_CASES = [c for c in CASES if c.source in (ML, OFFER, BOTO)]


@pytest.mark.parametrize("case", SHAPE_CASES, ids=[c.rule for c in SHAPE_CASES])
def test_the_oracle_agrees_with_the_rule_engine_on_every_shape_case(case: Case) -> None:
    found = oracle(_case_request(case))
    rules = f"rule engine: rejects [rule {case.rule}]"
    if case.rule in SILENT:
        assert found == [], (f"{rules}; oracle: now rejects too ({found}): "
                             "take the rule off SILENT")
    else:
        assert found, f"{rules}; oracle: accepts (the published shapes find nothing wrong)"


def test_smkit_only_rules_cite_their_document() -> None:
    """Rules the published shapes cannot judge (GUIDE, ML_API cases) must each cite where they
    come from; agreement is not asked of them."""
    cited = {r.id: r.source for r in all_rules()}
    smkit_only = sorted({c.rule for c in CASES if c.source in (GUIDE, ML_API)})
    assert smkit_only
    uncited = [rule for rule in smkit_only if not cited.get(rule, "").strip()]
    assert not uncited, f"smkit-only rules with no cited document: {uncited}"


def test_every_silent_rule_is_a_shape_case() -> None:
    assert {c.rule for c in SHAPE_CASES} >= SILENT


# ----------------------------------------------------------------------------- two verdicts

TOO_LONG = "Product.UpdateInformation.ProductTitle.max_length"


def _request(changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Catalog": "AWSMarketplace", "ChangeSet": changes, "Intent": "VALIDATE"}


def _long_title() -> dict[str, Any]:
    changes = base()
    changes[1]["DetailsDocument"]["ProductTitle"] = "T" * 73
    return _request(changes)


def test_the_shape_documents_are_the_ones_the_shape_cases_cite() -> None:
    wrong = [(c.rule, c.source, CITED[c.rule]) for c in CASES
             if (CITED[c.rule] in SHAPE_DOCUMENTS) != (c.source in (ML, OFFER, BOTO))]
    assert not wrong


def test_an_engine_that_accepts_what_the_oracle_refuses_disagrees() -> None:
    found = disagreement(_long_title(), "emulator", [], CITED)
    assert found is not None
    assert found.startswith("emulator: accepts; oracle (AWS's published schemas): rejects: ")
    assert "ProductTitle" in found
    assert "too long" in found


def test_an_engine_that_refuses_with_a_shape_rule_what_the_oracle_accepts_disagrees() -> None:
    refused = [f"INVALID_INPUT: ChangeSet[1]: too long [rule {TOO_LONG}]"]
    found = disagreement(_request(base()), "emulator", refused, CITED)
    assert found is not None
    assert found.startswith(f"emulator: rejects: {refused[0]}; oracle (AWS's published "
                            "schemas): accepts")
    assert TOO_LONG in found.split("accepts", 1)[1]


@pytest.mark.parametrize("rule", [sorted(SILENT)[0], next(c.rule for c in CASES
                                                          if c.source == GUIDE)])
def test_a_refusal_the_shapes_are_silent_on_or_smkit_cites_is_no_disagreement(
        rule: str) -> None:
    refused = [f"INVALID_INPUT: somewhere: wrong [rule {rule}]"]
    assert disagreement(_request(base()), "emulator", refused, CITED) is None
    uncited = {**CITED, rule: ""}
    assert disagreement(_request(base()), "emulator", refused, uncited) is not None


def test_both_accepting_or_both_refusing_is_agreement() -> None:
    assert disagreement(_request(base()), "emulator", [], CITED) is None
    assert disagreement(_long_title(), "emulator", [f"x [rule {TOO_LONG}]"], CITED) is None


def test_every_change_set_on_the_emulator_is_read_once_and_judged(moto: Server,
                                                                  catalog: Server) -> None:
    # The model package base() delivers (test_rules.PKG).
    create_package(moto.url, "rules-iris", realtime=["ml.m5.large", "ml.c5.xlarge"],
                   batch=["ml.m5.large"])
    client = boto3.client("marketplace-catalog", endpoint_url=catalog.url,
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    watch = Watch(CITED)
    watch.new(catalog.url)  # what earlier tests left
    ids = [client.start_change_set(**_request(base()))["ChangeSetId"],
           client.start_change_set(**_long_title())["ChangeSetId"]]
    for cs_id in ids:
        wait_change_set(client, cs_id)
    valid, long_title = watch.new(catalog.url)
    assert [valid.cs_id, long_title.cs_id] == ids
    assert watch.new(catalog.url) == []
    assert (valid.status, valid.refused, valid.found, valid.disagreement) == (
        "SUCCEEDED", [], [], None)
    assert valid.request["ChangeSet"] == base()
    assert long_title.status == "FAILED"
    assert any(f"[rule {TOO_LONG}]" in m for m in long_title.refused)
    assert any("ProductTitle" in f for f in long_title.found)
    assert long_title.disagreement is None
    assert failures([long_title]) == []
    # Were the emulator to accept it, the failure would name both verdicts.
    long_title.disagreement = disagreement(long_title.request, "emulator", [], CITED)
    [message] = failures([long_title])
    assert f"change set {long_title.cs_id}" in message
    assert catalog.url in message
    assert "emulator: accepts; oracle (AWS's published schemas): rejects" in message


def test_a_request_written_as_json_is_found(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Not under this test's tmp_path: the conftest judges every request written there.
    root = tmp_path_factory.mktemp("written")
    (root / "out").mkdir()
    (root / "out" / "changeset.json").write_text(json.dumps(_long_title()))
    (root / "listing-state.json").write_text(json.dumps({"product_id": "prod-x"}))
    [(path, request)] = written_requests(root)
    assert path.name == "changeset.json"
    assert disagreement(request, "smkit", [], CITED) is not None
