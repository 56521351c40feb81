"""listing.yaml validation: each documented limit fails naming the field, limit and length."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from listing_kit import valid_data, write_listing
from smkit.cli import main
from smkit.core.errors import UserError
from smkit.listing.validate import load_listing, parse_listing

Mutate = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutate:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        node[last] = value
    return mutate


# Each expected message names the listing.yaml field, the AWS field, the limit (as the
# MachineLearningProduct@1.0 UpdateInformation schema and the seller guide give it, typed here
# by hand) and the actual value.
LIMITS: list[tuple[str, Mutate, str]] = [
    ("title", _set("product.title", "T" * 73),
     "product.title: ProductTitle: allows at most 72 characters, got 73"),
    ("short description", _set("product.short_description", "s" * 1001),
     "product.short_description: ShortDescription: allows at most 1000 characters, got 1001"),
    ("long description", _set("product.long_description", "l" * 5001),
     "product.long_description: LongDescription: allows at most 5000 characters, got 5"),
    ("no highlight", _set("product.highlights", []),
     "product.highlights: Highlights: takes at least 1 item(s), got 0"),
    ("four highlights", _set("product.highlights", ["a", "b", "c", "d"]),
     "product.highlights: Highlights: takes at most 3 item(s), got 4"),
    ("long highlight", _set("product.highlights", ["ok", "h" * 501]),
     "product.highlights[1]: Highlights[1]: allows at most 500 characters, got 501"),
    ("no category", _set("product.categories", []),
     "product.categories: Categories: takes at least 1 item(s), got 0"),
    ("four categories", _set("product.categories", ["a", "b", "c", "d"]),
     "product.categories: Categories: takes at most 3 item(s), got 4"),
    ("no keyword", _set("product.keywords", []),
     "product.keywords: SearchKeywords: takes at least 1 item(s), got 0"),
    ("sixteen keywords", _set("product.keywords", [f"k{i}" for i in range(16)]),
     "product.keywords: SearchKeywords: takes at most 15 item(s), got 16"),
    ("long keyword", _set("product.keywords", ["k" * 51]),
     "product.keywords[0]: SearchKeywords[0]: allows at most 50 characters, got 51"),
    ("support description", _set("support.description", "d" * 2001),
     "support.description: SupportDescription: allows at most 2000 characters, got 2001"),
    ("http logo", _set("product.logo_url", "http://example.com/logo.png"),
     "product.logo_url: LogoUrl: must be an https URL"),
    ("two videos", _set("product.video_urls", ["https://example.com/1", "https://example.com/2"]),
     "product.video_urls: VideoUrls: takes at most 1 item(s), got 2"),
    ("four resources", _set("product.additional_resources",
                            [{"text": str(i), "url": "https://example.com"} for i in range(4)]),
     "product.additional_resources: AdditionalResources: takes at most 3 item(s), got 4"),
    ("trial too short", _set("pricing.free_trial_days", 4),
     "pricing.free_trial_days: Terms[1].Duration: must be P5D to P120D (days), got 'P4D'"),
    ("trial too long", _set("pricing.free_trial_days", 121),
     "pricing.free_trial_days: Terms[1].Duration: must be P5D to P120D (days), got 'P121D'"),
    ("no repository URL", _set("delivery.repository_url", None),
     "delivery.repository_url: DeliveryOptions[0].Details.SageMakerModelPackageDeliveryOption"
     "Details.RepositoryUrl: RepositoryUrl is required"),
    ("empty limitations", _set("delivery.input.limitations", ""),
     "delivery.input.limitations: DeliveryOptions[0].Details.SageMakerModelPackageDeliveryOption"
     "Details.InputProperties.Limitations: needs at least 1 character(s), got 0"),
    ("empty constraints", _set("delivery.input.parameters",
                               [{"name": "x", "description": "d", "constraints": ""}]),
     "delivery.input.parameters[0].constraints: DeliveryOptions[0].Details.SageMakerModel"
     "PackageDeliveryOptionDetails.InputProperties.Parameters[0].Constraints: needs at least 1 "
     "character(s), got 0"),
    ("refund policy not ASCII", _set("support.refund_policy", "No refunds \u2013 ever."),
     "support.refund_policy: Terms[0].RefundPolicy: must be ASCII"),
    ("nine decimals", _set("pricing.batch", {"ml.m5.large": "0.123456789"}),
     "pricing: Terms[0].RateCards[0].RateCard[2].Price: must be a price of at most 100000000 "
     "with at most 8 decimals"),
]


@pytest.mark.parametrize(("mutate", "message"), [(m, msg) for _, m, msg in LIMITS],
                         ids=[name for name, _, _ in LIMITS])
def test_each_documented_limit_is_refused_with_field_limit_and_length(
        mutate: Mutate, message: str) -> None:
    data = valid_data()
    mutate(data)
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert message in str(err.value)


def test_a_valid_listing_passes() -> None:
    listing = parse_listing(valid_data())
    assert listing.product.title == "Iris species classifier"
    assert listing.pricing.free_trial_days == 14


def test_the_long_description_limit_counts_the_model_facts_smkit_appends() -> None:
    data = valid_data()
    data["product"]["long_description"] = "l" * 4990  # under 5000 alone, over with the facts
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert "LongDescription includes the model facts smkit appends" in str(err.value)
    assert "allows at most 5000 characters, got 5" in str(err.value)


RULES: list[tuple[str, Mutate, str]] = [
    ("unpriced realtime instance", _set("pricing.realtime", {"ml.m5.large": "0.50"}),
     "pricing: Terms[].RateCards[].RateCard: every supported instance type must be priced; "
     "no price for ml.c5.xlarge.m.i.r"),
    ("unpriced batch instance", _set("pricing.batch", {}),
     "every supported instance type must be priced; no price for ml.m5.large.m.i.b"),
    ("priced unsupported instance",
     _set("pricing.batch", {"ml.m5.large": "0.4", "ml.p3.2xlarge": "3"}),
     "priced instance types the product does not support: ml.p3.2xlarge.m.i.b"),
    ("recommended not supported",
     _set("delivery.recommended_instance_types", {"realtime": "ml.g4dn.xlarge",
                                                  "batch": "ml.m5.large"}),
     "delivery.recommended_instance_types.realtime: DeliveryOptions[0].Details.SageMakerModel"
     "PackageDeliveryOptionDetails.RecommendedInstanceTypes.RealtimeInference: ml.g4dn.xlarge "
     "is not among"),
    ("role name instead of ARN", _set("delivery.access_role_arn", "MarketplaceAccess"),
     "delivery.access_role_arn: DeliveryOptions[0].Details.SageMakerModelPackageDeliveryOption"
     "Details.AccessRoleArn: must be an IAM role ARN"),
    ("role in another account",
     _set("delivery.access_role_arn", "arn:aws:iam::999999999999:role/MarketplaceAccess"),
     "delivery.access_role_arn: DeliveryOptions[0].Details.SageMakerModelPackageDeliveryOption"
     "Details.AccessRoleArn: the role is in account 999999999999, not the seller's account "
     "123456789012"),
    ("custom EULA over http", _set("eula", {"type": "custom", "url": "http://e/eula"}),
     "eula.url: Terms[0].Documents[0].Url: must be an https URL"),
    ("negative price", _set("pricing.batch", {"ml.m5.large": "-1"}),
     "pricing.batch.ml.m5.large must be a non-negative amount"),
    ("package region not listed", _set("regions", ["eu-west-1"]),
     "must include us-east-1, where the model package lives"),
    ("private without buyers", _set("visibility", "Private"),
     "a Private listing needs buyer_accounts"),
    ("unknown field", _set("product.subtitle", "x"),
     "product.subtitle: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("mutate", "message"), [(m, msg) for _, m, msg in RULES],
                         ids=[name for name, _, _ in RULES])
def test_each_listing_rule_is_refused_with_a_clear_message(mutate: Mutate, message: str) -> None:
    data = valid_data()
    mutate(data)
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert message in str(err.value)


def test_per_inference_pricing_is_real_time_only_and_needs_the_container_metering() -> None:
    data = valid_data()
    data["pricing"] = {"model": "per-inference", "per_inference": "0.001",
                       "batch": {"ml.m5.large": "0.40"}}
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert "pricing.model is per-inference but the model package's container metering is none" \
        in str(err.value)
    data["delivery"]["metering"] = "per-inference"
    assert parse_listing(data).pricing.per_inference == "0.001"

    data["pricing"]["realtime"] = {"ml.m5.large": "0.5", "ml.c5.xlarge": "0.8"}
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert "per-inference pricing covers real-time endpoints; remove pricing.realtime" \
        in str(err.value)


def test_a_free_trial_is_for_hourly_pricing_only() -> None:
    data = valid_data()
    data["delivery"]["metering"] = "per-inference"
    data["pricing"] = {"model": "per-inference", "per_inference": "0.001",
                       "batch": {"ml.m5.large": "0.40"}, "free_trial_days": 14}
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert "a free trial applies to hourly pricing only, not per-inference" in str(err.value)


def test_the_listing_reads_the_specs_spelling_and_keeps_its_own_rule() -> None:
    data = valid_data()
    supported = data["delivery"]["supported_instance_types"]
    supported["transform"] = supported.pop("batch")
    listing = parse_listing(data)
    assert listing.delivery.supported_instance_types.batch == supported["transform"]
    # The listing's rule is the shape of an ml.* name, not the spec's list: a GPU type passes,
    # a malformed one is refused under the key written.
    supported["transform"] = [" ml.m5.large ", "ml.g5.xlarge"]
    data["pricing"]["batch"]["ml.g5.xlarge"] = "2.00"
    assert parse_listing(data).delivery.supported_instance_types.batch == ["ml.m5.large",
                                                                           "ml.g5.xlarge"]
    supported["transform"] = ["m5.large"]
    with pytest.raises(UserError, match=r"delivery\.supported_instance_types\.transform\[0\]"):
        parse_listing(data)


def test_init_placeholders_are_refused_with_their_paths() -> None:
    data = valid_data()
    data["product"]["title"] = "TODO: product title"
    data["support"]["refund_policy"] = "TODO: refund policy"
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert "product.title: still holds the TODO placeholder" in str(err.value)
    assert "support.refund_policy: still holds the TODO placeholder" in str(err.value)


def test_every_failing_field_is_reported_at_once() -> None:
    data = valid_data()
    data["product"]["title"] = "T" * 80
    data["support"]["description"] = "d" * 2100
    with pytest.raises(UserError) as err:
        parse_listing(data)
    assert "ProductTitle: allows at most 72 characters, got 80" in str(err.value)
    assert "SupportDescription: allows at most 2000 characters, got 2100" in str(err.value)


def test_broken_yaml_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "listing.yaml"
    path.write_text("product: [unclosed\n")
    with pytest.raises(UserError, match=r"^listing file .*listing.yaml is not valid YAML at "
                                        r"line 2, column 1: "):
        load_listing(path)


def test_check_exits_2_with_a_clear_error_and_no_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid_data()
    data["product"]["title"] = "T" * 73
    path = write_listing(tmp_path, data)
    assert main(["listing", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "product.title: ProductTitle: allows at most 72 characters, got 73" in err
    assert "Traceback" not in err


def test_check_of_a_missing_file_exits_2(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["listing", "check", str(tmp_path / "nope.yaml")]) == 2
    assert (f"listing file {tmp_path / 'nope.yaml'} does not exist; write one with `smkit "
            "listing init`") in capsys.readouterr().err


def test_check_says_how_pricing_and_metering_agree(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = valid_data()
    data["delivery"]["metering"] = "per-inference"
    data["pricing"] = {"model": "per-inference", "per_inference": "0.002",
                       "batch": {"ml.m5.large": "0.40"}}
    path = write_listing(tmp_path, data)
    assert main(["listing", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ok:" in out
    assert "offer dimension m.i.c at $0.002 per record" in out
    assert "SMKIT_METERING=per-inference" in out
    assert "they agree" in out
    assert "model package: not read; taken as certified" in out


def test_check_refuses_a_listing_whose_sample_files_are_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_listing(tmp_path, valid_data())
    (tmp_path / "samples" / "output.csv").unlink()
    assert main(["listing", "check", str(path)]) == 2
    assert "delivery.output.sample_file: cannot read" in capsys.readouterr().err


def test_numbers_typed_in_yaml_are_taken_as_text_and_prices_in_plain_notation(
        tmp_path: Path) -> None:
    data = valid_data()
    data["delivery"]["version_title"] = 1.0
    data["pricing"]["realtime"] = {"ml.m5.large": 0.5, "ml.c5.xlarge": 1}
    listing = parse_listing(data)
    assert listing.delivery.version_title == "1.0"
    assert listing.pricing.realtime == {"ml.m5.large": "0.5", "ml.c5.xlarge": "1"}
    data = valid_data()
    data["delivery"]["metering"] = "per-inference"
    data["pricing"] = {"model": "per-inference", "per_inference": 1e-05,
                       "batch": {"ml.m5.large": "0.40"}}
    assert parse_listing(data).pricing.per_inference == "0.00001"


def test_an_unwritable_output_is_a_clear_error_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_listing(tmp_path, valid_data())
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["listing", "render", str(path), "--out", str(blocker / "changeset.json")]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {blocker / 'changeset.json'}" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "product: {title: 1\n"],
                         ids=["empty", "a list", "broken"])
def test_listing_files_that_are_not_a_mapping_fail_clearly(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = tmp_path / "listing.yaml"
    path.write_text(text)
    assert main(["listing", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err
    assert "Traceback" not in err


def test_check_reports_the_issue_16_listing_problems_all_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The three published reasons AWS refused a filled-in starter, each under its field."""
    data = valid_data()
    data["product"]["keywords"] = []  # SearchKeywords: minItems 1 (ML schema)
    del data["delivery"]["repository_url"]  # RepositoryUrl: required (ML schema)
    data["delivery"]["input"]["limitations"] = ""  # Limitations: minLength 1 (ML schema)
    data["delivery"]["input"]["parameters"] = [  # Constraints: minLength 1 (ML schema)
        {"name": "sepal_length", "description": "cm", "constraints": ""}]
    path = write_listing(tmp_path, data)
    assert main(["listing", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "(4 problems)" in err
    for field, rule in (
            ("product.keywords", "Product.UpdateInformation.SearchKeywords.min_items"),
            ("delivery.repository_url", "SageMakerModelPackageDeliveryOptionDetails."
                                        "RepositoryUrl.required"),
            ("delivery.input.limitations",
             "Shape.DeliveryOption.InputProperties.Limitations.min_length"),
            ("delivery.input.parameters[0].constraints", "Shape.Parameter.Constraints.min_length"),
    ):
        [line] = [x for x in err.splitlines() if x.strip().startswith(f"{field}:")]
        assert rule in line
