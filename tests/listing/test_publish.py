"""Publishing through boto3's marketplace-catalog client against the Catalog emulator, which
runs as a real subprocess and reads model packages from a moto server."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from listing_kit import Server, create_package, start_catalog, stop, valid_data, write_listing
from smkit.cli import main
from smkit.core.errors import PlatformError
from smkit.listing.publish import publish

PRODUCT = "MachineLearningProduct@1.0"


@pytest.fixture(scope="module")
def packages(moto: Server) -> dict[str, str]:
    """Model packages in moto: the listing's own, a narrower one, and an uncertified one."""
    return {
        "iris": create_package(moto.url, "iris-tree", realtime=["ml.m5.large", "ml.c5.xlarge"],
                               batch=["ml.m5.large"]),
        "narrow": create_package(moto.url, "iris-narrow",
                                 realtime=["ml.m5.large", "ml.m5.xlarge"], batch=["ml.m5.large"]),
        "uncertified": create_package(moto.url, "iris-uncertified", realtime=["ml.m5.large"],
                                      batch=["ml.m5.large"], certify=False),
    }


@pytest.fixture
def client(catalog: Server, packages: dict[str, str],
           monkeypatch: pytest.MonkeyPatch) -> Any:
    """A marketplace-catalog client selected onto the emulator by the environment variable."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_CATALOG", catalog.url)
    return boto3.client("marketplace-catalog", region_name="us-east-1")


def _products(client: Any) -> list[dict[str, Any]]:
    return client.list_entities(Catalog="AWSMarketplace",
                                EntityType="MachineLearningProduct")["EntitySummaryList"]


def _wait(client: Any, cs_id: str, deadline_s: float = 10) -> dict[str, Any]:
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        d = client.describe_change_set(Catalog="AWSMarketplace", ChangeSetId=cs_id)
        if d["Status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return d
        time.sleep(0.1)
    raise AssertionError(f"change set {cs_id} did not finish")


def test_validate_is_a_dry_run_that_succeeds_and_creates_nothing(
        client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = len(_products(client))
    path = write_listing(tmp_path, valid_data())
    code = main(["listing", "publish", str(path), "--intent", "VALIDATE", "--interval", "0.1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PREPARING" in out
    assert "SUCCEEDED" in out
    assert "validated" in out
    assert len(_products(client)) == before
    assert not (tmp_path / ".smkit" / "listing-state.json").exists()


def test_apply_with_release_creates_the_product_and_offer_and_reruns_converge(
        client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid_data()
    data["product"]["title"] = "Iris classifier, applied"
    path = write_listing(tmp_path, data)
    args = ["listing", "publish", str(path), "--intent", "APPLY", "--release", "--interval", "0.1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "APPLYING" in out
    assert "SUCCEEDED" in out
    state = json.loads((tmp_path / ".smkit" / "listing-state.json").read_text())
    assert state["product_id"].startswith("prod-")
    assert state["offer_id"].startswith("offer-")

    product = client.describe_entity(Catalog="AWSMarketplace", EntityId=state["product_id"])
    assert product["EntityType"] == PRODUCT
    details = product["DetailsDocument"]
    # DescribeEntity's MachineLearningProduct@1.0 shape: Visibility under Description, the
    # logo and links under PromotionalResources, each version's delivery option with an Id.
    assert details["Description"]["ProductTitle"] == "Iris classifier, applied"
    assert details["Description"]["Visibility"] == "Public"
    assert details["PromotionalResources"]["LogoUrl"] == "https://example.com/logo.png"
    assert details["PromotionalResources"]["AdditionalResources"] == [
        {"Type": "Link", "Text": "Docs", "Url": "https://example.com/docs"}]
    assert details["SupportInformation"] == {"Description": "Email support@example.com."}
    [version] = details["Versions"]
    assert version["VersionTitle"] == "1.0"
    assert version["Sources"][0]["ModelPackageArn"] == \
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-tree"
    [option] = version["DeliveryOptions"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        option["Id"])
    assert option["Instructions"]["RepositoryUrl"] == "https://github.com/example/iris-classifier"
    assert option["SupportedInstanceTypes"] == {"RealtimeInference": ["ml.m5.large",
                                                                      "ml.c5.xlarge"],
                                                "BatchTransform": ["ml.m5.large"]}
    offer = client.describe_entity(Catalog="AWSMarketplace", EntityId=state["offer_id"])
    assert offer["DetailsDocument"]["ProductId"] == state["product_id"]
    assert offer["DetailsDocument"]["State"] == "Released"
    listed = client.list_change_sets(
        Catalog="AWSMarketplace",
        FilterList=[{"Name": "EntityId", "ValueList": [state["product_id"]]}])
    assert [s["Status"] for s in listed["ChangeSetSummaryList"]] == ["SUCCEEDED"]

    # A second publish updates the same product instead of creating another one, and the
    # same version in place (UpdateDeliveryOptions on its delivery option Id).
    data["delivery"]["release_notes"] = "Clearer usage instructions."
    write_listing(tmp_path, data)
    assert main(["listing", "publish", str(path), "--intent", "APPLY", "--interval", "0.1"]) == 0
    out = capsys.readouterr().out
    assert f"updating its delivery option {option['Id']} (UpdateDeliveryOptions)" in out
    titles = [p["Name"] for p in _products(client)]
    assert titles.count("Iris classifier, applied") == 1
    again = json.loads((tmp_path / ".smkit" / "listing-state.json").read_text())
    assert again["product_id"] == state["product_id"]
    assert again["change_set_id"] != state["change_set_id"]
    product = client.describe_entity(Catalog="AWSMarketplace", EntityId=state["product_id"])
    [version] = product["DetailsDocument"]["Versions"]
    assert version["ReleaseNotes"] == "Clearer usage instructions."
    assert version["DeliveryOptions"][0]["Id"] == option["Id"]

    # A new version_title with the same package adds a second version.
    data["delivery"]["version_title"] = "1.1"
    write_listing(tmp_path, data)
    assert main(["listing", "publish", str(path), "--intent", "APPLY", "--interval", "0.1"]) == 0
    capsys.readouterr()
    product = client.describe_entity(Catalog="AWSMarketplace", EntityId=state["product_id"])
    assert [v["VersionTitle"] for v in product["DetailsDocument"]["Versions"]] == ["1.0", "1.1"]


def test_a_rejected_change_set_shows_every_error_the_service_returned(
        client: Any, packages: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = valid_data()
    # The listing agrees with itself but not with the model package it names: the package
    # supports ml.m5.xlarge (unpriced here) and not the recommended ml.c5.xlarge.
    data["delivery"]["model_package_arn"] = packages["narrow"]
    data["delivery"]["recommended_instance_types"]["realtime"] = "ml.c5.xlarge"
    data["performance"]["instance_type"] = "ml.c5.xlarge"
    path = write_listing(tmp_path, data)
    code = main(["listing", "publish", str(path), "--intent", "APPLY", "--interval", "0.1"])
    captured = capsys.readouterr()
    assert code == 1
    assert "FAILED" in captured.out
    err = captured.err
    assert "Traceback" not in err
    assert ("AddDeliveryOptions ($CreateProduct.Entity.Identifier): "
            "INVALID_RECOMMENDED_INSTANCE_TYPE: DeliveryOptions[0].Details.SageMakerModelPackage"
            "DeliveryOptionDetails.RecommendedInstanceTypes.RealtimeInference: "
            "ml.c5.xlarge is not among") in err
    assert ("UpdatePricingTerms ($CreateOffer.Entity.Identifier): UPDATE_PRICING_REQUIRED: "
            "Terms[].RateCards[].RateCard: every supported instance type must be priced; "
            "no price for ml.m5.xlarge.m.i.r") in err
    assert ("UpdatePricingTerms ($CreateOffer.Entity.Identifier): INVALID_INPUT: "
            "Terms[].RateCards[].RateCard: priced instance types the product does not support: "
            "ml.c5.xlarge.m.i.r") in err
    assert not (tmp_path / ".smkit" / "listing-state.json").exists()


def test_limits_and_assets_fail_asynchronously_with_error_codes(client: Any) -> None:
    request = {
        "Catalog": "AWSMarketplace",
        "ChangeSet": [
            {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT},
             "DetailsDocument": {}, "ChangeName": "CreateProduct"},
            {"ChangeType": "UpdateInformation",
             "Entity": {"Type": PRODUCT, "Identifier": "$CreateProduct.Entity.Identifier"},
             "DetailsDocument": {"ProductTitle": "T" * 73, "Highlights": ["a", "b", "c", "d"],
                                 "Categories": ["ML"], "LogoUrl": "http://example.com/l.png"}},
        ],
    }
    with pytest.raises(PlatformError) as err:
        publish(client, request, "VALIDATE", echo=lambda _: None, interval=0.1, timeout=10)
    message = str(err.value)
    assert "FAILED (CLIENT_ERROR)" in message
    assert "INVALID_INPUT: ProductTitle: allows at most 72 characters, got 73" in message
    assert "INVALID_INPUT: Highlights: takes at most 3 item(s), got 4" in message
    assert "ASSET_VALIDATION_EXCEPTION: LogoUrl: must be an https URL" in message


def test_an_uncertified_model_package_is_refused(client: Any, packages: dict[str, str]) -> None:
    details = {
        "Version": {"VersionTitle": "1.0", "ReleaseNotes": "x"},
        "DeliveryOptions": [{"Details": {"SageMakerModelPackageDeliveryOptionDetails": {
            "SageMakerModelPackageArn": packages["uncertified"],
            "AccessRoleArn": "MarketplaceAccess",
            "UsageInstructions": "Invoke it.",
        }}}],
    }
    started = client.start_change_set(Catalog="AWSMarketplace", Intent="VALIDATE", ChangeSet=[
        {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "DetailsDocument": {},
         "ChangeName": "CreateProduct"},
        {"ChangeType": "AddDeliveryOptions",
         "Entity": {"Type": PRODUCT, "Identifier": "$CreateProduct.Entity.Identifier"},
         "Details": json.dumps(details)},
    ])
    final = _wait(client, started["ChangeSetId"])
    assert final["Status"] == "FAILED"
    errors = final["ChangeSet"][1]["ErrorDetailList"]
    messages = [e["ErrorMessage"] for e in errors]
    assert any("AccessRoleArn: must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), "
               "not a role name" in m for m in messages)
    assert any("CertifyForMarketplace=True" in m for m in messages)
    assert final["ChangeSet"][0]["ErrorDetailList"] == []


@pytest.mark.parametrize(("call", "code", "message"), [
    (lambda c: c.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "AddRevisions", "Entity": {"Type": PRODUCT}, "DetailsDocument": {}}]),
     "ValidationException", "ChangeType 'AddRevisions' does not apply"),
    (lambda c: c.start_change_set(Catalog="Elsewhere", ChangeSet=[
        {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "DetailsDocument": {}}]),
     "ValidationException", "Catalog must be AWSMarketplace"),
    (lambda c: c.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "UpdateInformation",
         "Entity": {"Type": PRODUCT, "Identifier": "prod-doesnotexist"},
         "DetailsDocument": {}}]),
     "ResourceNotFoundException", "prod-doesnotexist"),
    (lambda c: c.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "UpdateInformation",
         "Entity": {"Type": PRODUCT, "Identifier": "$Missing.Entity.Identifier"},
         "DetailsDocument": {}}]),
     "ValidationException", "does not name an earlier"),
    (lambda c: c.describe_entity(Catalog="AWSMarketplace", EntityId="prod-nothere"),
     "ResourceNotFoundException", "prod-nothere"),
    (lambda c: c.describe_change_set(Catalog="AWSMarketplace", ChangeSetId="nothere"),
     "ResourceNotFoundException", "nothere"),
    (lambda c: c.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "Details": "{not json"}]),
     "ValidationException", "Details is not valid JSON"),
    (lambda c: c.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "DetailsDocument": {}}] * 21),
     "ValidationException", "ChangeSet: takes at most 20 changes, got 21"),
    (lambda c: c.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "DetailsDocument": {},
         "ChangeName": "CreateProduct"},
        {"ChangeType": "UpdateInformation",
         "Entity": {"Type": PRODUCT, "Identifier": "$CreateProduct.Entity.Identifier"},
         "DetailsDocument": {}},
        {"ChangeType": "UpdateInformation",
         "Entity": {"Type": PRODUCT, "Identifier": "$CreateProduct.Entity.Identifier"},
         "DetailsDocument": {}}]),
     "ValidationException", "UpdateInformation is already requested"),
], ids=["unknown change type", "wrong catalog", "unknown entity", "dangling reference",
        "describe unknown entity", "describe unknown change set", "details not JSON",
        "21 changes", "same change twice on one entity"])
def test_malformed_requests_fail_synchronously_with_the_aws_error_code(
        client: Any, call: Any, code: str, message: str) -> None:
    with pytest.raises(ClientError) as err:
        call(client)
    assert err.value.response["Error"]["Code"] == code
    assert message in err.value.response["Error"]["Message"]


def test_the_same_client_request_token_returns_the_same_change_set(client: Any) -> None:
    kwargs: dict[str, Any] = {
        "Catalog": "AWSMarketplace", "Intent": "VALIDATE", "ClientRequestToken": "token-1",
        "ChangeSet": [{"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT},
                       "DetailsDocument": {}}],
    }
    first = client.start_change_set(**kwargs)["ChangeSetId"]
    assert client.start_change_set(**kwargs)["ChangeSetId"] == first


@pytest.fixture
def slow_client(moto: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client on a second emulator whose asynchronous steps take 1.5 s each."""
    server = start_catalog(moto.url, delay=1.5)
    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_CATALOG", server.url)
    try:
        yield boto3.client("marketplace-catalog", region_name="us-east-1")
    finally:
        stop(server.proc)
    assert server.proc.returncode == 0  # SIGTERM is a clean shutdown


def test_a_preparing_change_set_can_be_cancelled_and_locks_its_entities(slow_client: Any) -> None:
    c = slow_client
    created = c.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "DetailsDocument": {},
         "ChangeName": "CreateProduct"}])
    final = _wait(c, created["ChangeSetId"])
    assert final["Status"] == "SUCCEEDED"
    product_id = final["ChangeSet"][0]["Entity"]["Identifier"].split("@")[0]

    update = [{"ChangeType": "UpdateInformation",
               "Entity": {"Type": PRODUCT, "Identifier": product_id},
               "DetailsDocument": {"ProductTitle": "Locked"}}]
    running = c.start_change_set(Catalog="AWSMarketplace", ChangeSet=update)
    with pytest.raises(ClientError) as err:
        c.start_change_set(Catalog="AWSMarketplace", ChangeSet=update)
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"

    c.cancel_change_set(Catalog="AWSMarketplace", ChangeSetId=running["ChangeSetId"])
    described = c.describe_change_set(Catalog="AWSMarketplace",
                                      ChangeSetId=running["ChangeSetId"])
    assert described["Status"] == "CANCELLED"
    with pytest.raises(ClientError) as err:
        c.cancel_change_set(Catalog="AWSMarketplace", ChangeSetId=running["ChangeSetId"])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    time.sleep(1.7)  # the cancelled change set's scheduled step must not apply it
    entity = c.describe_entity(Catalog="AWSMarketplace", EntityId=product_id)
    assert "ProductTitle" not in entity["DetailsDocument"]["Description"]


def test_a_private_listing_can_never_become_public(
        client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid_data()
    data["product"]["title"] = "Private iris"
    data["visibility"] = "Private"
    data["buyer_accounts"] = ["111122223333"]
    path = write_listing(tmp_path, data)
    assert main(["listing", "publish", str(path), "--intent", "APPLY", "--release",
                 "--interval", "0.1"]) == 0
    product_id = json.loads((tmp_path / ".smkit" / "listing-state.json").read_text())["product_id"]
    entity = client.describe_entity(Catalog="AWSMarketplace", EntityId=product_id)
    assert entity["DetailsDocument"]["Description"]["Visibility"] == "Limited"
    assert entity["DetailsDocument"]["Targeting"] == {
        "PositiveTargeting": {"BuyerAccounts": ["111122223333"]}}

    started = client.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "UpdateVisibility", "Entity": {"Type": PRODUCT, "Identifier": product_id},
         "DetailsDocument": {"TargetVisibility": "Public"}}])
    final = _wait(client, started["ChangeSetId"])
    assert final["Status"] == "FAILED"
    assert final["ChangeSet"][0]["ErrorDetailList"] == [
        {"ErrorCode": "INVALID_INPUT",
         "ErrorMessage": "TargetVisibility: a Private listing (targeted at buyer accounts) can "
                         "never become Public [rule Product.UpdateVisibility.TargetVisibility."
                         "never_public_if_private]"}]


def test_free_trials_outside_5_to_120_days_or_on_per_inference_pricing_fail(client: Any) -> None:
    created = client.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
        {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "DetailsDocument": {},
         "ChangeName": "CreateProduct"},
        {"ChangeType": "CreateOffer", "Entity": {"Type": "Offer@1.0"},
         "DetailsDocument": {"ProductId": "$CreateProduct.Entity.Identifier"},
         "ChangeName": "CreateOffer"},
        {"ChangeType": "UpdatePricingTerms",
         "Entity": {"Type": "Offer@1.0", "Identifier": "$CreateOffer.Entity.Identifier"},
         "DetailsDocument": {"PricingModel": "Usage", "Terms": [
             {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
              "RateCards": [{"RateCard": [{"DimensionKey": "m.i.c", "Price": "0.001"}]}]},
             {"Type": "FreeTrialPricingTerm", "Duration": "P4D",
              "Grants": [{"DimensionKey": "m.i.c"}]}]}},
    ], Intent="VALIDATE")
    final = _wait(client, created["ChangeSetId"])
    assert final["Status"] == "FAILED"
    assert final["ChangeSet"][2]["ErrorDetailList"] == [
        {"ErrorCode": "INVALID_INPUT",
         "ErrorMessage": "Terms[1].Duration: must be P5D to P120D (days), got 'P4D' "
                         "[rule Offer.UpdatePricingTerms.Terms[].Duration.trial_days]"},
        {"ErrorCode": "INVALID_INPUT",
         "ErrorMessage": "Terms[1].Grants[0].DimensionKey: a free trial applies to hourly "
                         "pricing only, not m.i.c "
                         "[rule Offer.UpdatePricingTerms.Terms[].Grants[].DimensionKey."
                         "hourly_only]"},
    ]


def test_rerunning_a_failed_publish_after_fixing_the_cause_starts_a_new_change_set(
        client: Any, moto: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid_data()
    data["delivery"]["model_package_arn"] = \
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-later"
    path = write_listing(tmp_path, data)
    args = ["listing", "publish", str(path), "--intent", "VALIDATE", "--interval", "0.1"]
    assert main(args) == 1
    first = capsys.readouterr()
    assert "model package arn:aws:sagemaker:us-east-1:123456789012:model-package/iris-later " \
           "does not exist" in first.err
    failed_id = re.search(r"change set (\w+) started", first.out).group(1)  # type: ignore[union-attr]

    create_package(moto.url, "iris-later", realtime=["ml.m5.large", "ml.c5.xlarge"],
                   batch=["ml.m5.large"])
    time.sleep(2.5)  # the failed attempt must be visibly older than the re-run
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"change set {failed_id} (same request) ended FAILED in an earlier run" in out
    assert "SUCCEEDED" in out


def test_list_entities_pages_with_max_results_and_next_token(client: Any) -> None:
    for _ in range(3):
        started = client.start_change_set(Catalog="AWSMarketplace", ChangeSet=[
            {"ChangeType": "CreateProduct", "Entity": {"Type": PRODUCT}, "DetailsDocument": {},
             "ChangeName": "CreateProduct"}])
        assert _wait(client, started["ChangeSetId"])["Status"] == "SUCCEEDED"
    everything = _products(client)
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = client.list_entities(Catalog="AWSMarketplace", EntityType="MachineLearningProduct",
                                    MaxResults=2, **kwargs)
        assert len(page["EntitySummaryList"]) <= 2
        seen += [e["EntityId"] for e in page["EntitySummaryList"]]
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == [e["EntityId"] for e in everything]
    assert len(seen) >= 3


@pytest.fixture
def reviewed_client(moto: Server, packages: dict[str, str],
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A client on an emulator whose review of a request to go Public takes 2 s."""
    server = start_catalog(moto.url, delay=0.1, review_delay=2.0)
    monkeypatch.setenv("AWS_ENDPOINT_URL_MARKETPLACE_CATALOG", server.url)
    try:
        yield boto3.client("marketplace-catalog", region_name="us-east-1")
    finally:
        stop(server.proc)


def test_going_public_is_reviewed_while_the_product_stays_limited(
        reviewed_client: Any, tmp_path: Path) -> None:
    c = reviewed_client
    data = valid_data()
    data["product"]["title"] = "Reviewed iris"
    path = write_listing(tmp_path, data)
    assert main(["listing", "render", str(path), "--out", str(tmp_path / "cs.json"),
                 "--release"]) == 0
    request = json.loads((tmp_path / "cs.json").read_text())
    started = c.start_change_set(**request, Intent="APPLY")
    start = time.monotonic()
    while True:
        described = c.describe_change_set(Catalog="AWSMarketplace",
                                          ChangeSetId=started["ChangeSetId"])
        product_id = described["ChangeSet"][0]["Entity"].get("Identifier", "")
        if described["Status"] == "APPLYING" and product_id.startswith("prod-"):
            break
        assert time.monotonic() - start < 5, described["Status"]
        time.sleep(0.05)
    time.sleep(0.5)  # the changes are applied; the review is under way
    product = c.describe_entity(Catalog="AWSMarketplace", EntityId=product_id.split("@")[0])
    during = c.describe_change_set(Catalog="AWSMarketplace", ChangeSetId=started["ChangeSetId"])
    assert during["Status"] == "APPLYING"
    assert product["DetailsDocument"]["Description"]["Visibility"] == "Limited"
    assert product["DetailsDocument"]["Description"]["ProductTitle"] == "Reviewed iris"
    final = _wait(c, started["ChangeSetId"])
    assert final["Status"] == "SUCCEEDED"
    product = c.describe_entity(Catalog="AWSMarketplace", EntityId=product_id.split("@")[0])
    assert product["DetailsDocument"]["Description"]["Visibility"] == "Public"


def test_a_new_model_package_under_an_existing_version_title_is_refused(
        client: Any, packages: dict[str, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = valid_data()
    data["product"]["title"] = "Iris, one package per version"
    path = write_listing(tmp_path, data)
    assert main(["listing", "publish", str(path), "--intent", "APPLY", "--interval", "0.1"]) == 0
    capsys.readouterr()
    # "You cannot update the ARN for a version" (Catalog API reference, ml-update-version).
    data["delivery"]["model_package_arn"] = packages["narrow"]
    write_listing(tmp_path, data)
    assert main(["listing", "publish", str(path), "--intent", "APPLY", "--interval", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "delivery.version_title '1.0' already exists with model package" in err
    assert "give the new package a new version_title" in err
