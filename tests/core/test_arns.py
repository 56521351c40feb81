"""ARNs: one grammar for the spec, the role check, the buyer and the listing rules.

The cases are where smkit's earlier copies disagreed: partitions other than ``aws``, role
paths, bare ``role``, and the Catalog's narrower patterns.
"""

from __future__ import annotations

import copy
from pathlib import Path

import botocore.loaders
import pytest
from pkg_helpers import base_spec
from smkit.aws.roles import FAIL, PASS, check_role
from smkit.core import arns
from smkit.core.errors import UserError
from smkit.listing.rules import shapes
from smkit.project import spec_yaml

ACCOUNT = "123456789012"


def test_the_partitions_are_botocores() -> None:
    data = botocore.loaders.create_loader().load_data("partitions")
    assert sorted(arns.PARTITIONS) == sorted(p["id"] for p in data["partitions"])


@pytest.mark.parametrize(("arn", "partition", "path", "name"), [
    (f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution", "aws", "/", "SageMakerExecution"),
    (f"arn:aws-cn:iam::{ACCOUNT}:role/Exec", "aws-cn", "/", "Exec"),
    (f"arn:aws-iso-b:iam::{ACCOUNT}:role/Exec", "aws-iso-b", "/", "Exec"),
    (f"arn:aws-eusc:iam::{ACCOUNT}:role/Exec", "aws-eusc", "/", "Exec"),
    (f"arn:aws:iam::{ACCOUNT}:role/service-role/AmazonSageMaker-ExecutionRole-2020",
     "aws", "/service-role/", "AmazonSageMaker-ExecutionRole-2020"),
    (f"arn:aws-us-gov:iam::{ACCOUNT}:role/a/b.c/d+=,.@-_", "aws-us-gov", "/a/b.c/", "d+=,.@-_"),
])
def test_role_arns_in_every_partition_and_with_paths(arn: str, partition: str, path: str,
                                                      name: str) -> None:
    assert arns.role_arn(arn) == arns.RoleArn(partition, ACCOUNT, path, name)


@pytest.mark.parametrize(("arn", "says"), [
    ("SageMakerExecution", "is a role name"),
    (f"arn:aws:iam::{ACCOUNT}:role", "is not an IAM role ARN"),
    (f"arn:aws:iam::{ACCOUNT}:role/", "is not an IAM role ARN"),
    (f"arn:aws:iam::{ACCOUNT}:role/{'n' * 65}", "is not an IAM role ARN"),
    (f"arn:aws:iam::{ACCOUNT}:role/{'p' * 511}/x", "is not an IAM role ARN"),
    (f"arn:aws:iam::{ACCOUNT}:role/bad*name", "is not an IAM role ARN"),
    (f"arn:aws:iam::{ACCOUNT}:user/bob", "is not an IAM role ARN"),
    (f"arn:aws-mars:iam::{ACCOUNT}:role/Exec", "is not an IAM role ARN"),
    ("arn:aws:iam::1234:role/Exec", "is not an IAM role ARN"),
])
def test_what_is_not_a_role_arn(arn: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        arns.role_arn(arn)


def test_a_path_of_510_characters_is_the_longest_with_its_slashes() -> None:
    assert arns.role_arn(f"arn:aws:iam::{ACCOUNT}:role/{'p' * 510}/x").name == "x"


@pytest.mark.parametrize(("arn", "region", "name", "version"), [
    (f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/iris-tree", "us-east-1",
     "iris-tree", None),
    (f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/wine/12", "eu-west-1", "wine", 12),
    (f"arn:aws-cn:sagemaker:cn-north-1:{ACCOUNT}:model-package/x", "cn-north-1", "x", None),
    (f"arn:aws-us-gov:sagemaker:us-gov-west-1:{ACCOUNT}:model-package/x", "us-gov-west-1",
     "x", None),
    (f"arn:aws-iso-b:sagemaker:us-isob-east-1:{ACCOUNT}:model-package/x", "us-isob-east-1",
     "x", None),
])
def test_model_package_arns(arn: str, region: str, name: str, version: int | None) -> None:
    parsed = arns.package_arn(arn)
    assert (parsed.region, parsed.account, parsed.name, parsed.version) == \
        (region, ACCOUNT, name, version)


@pytest.mark.parametrize("arn", [
    "wine-abc",
    f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/",
    f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/-x",
    f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/x",
    "arn:aws:sagemaker:us-east-1:1234:model-package/x",
    f"arn:aws:sagemaker::{ACCOUNT}:model-package/x",
])
def test_what_is_not_a_model_package_arn(arn: str) -> None:
    with pytest.raises(ValueError, match="is not a model package ARN; expected arn:aws:"):
        arns.package_arn(arn)


def test_the_spec_takes_any_partition_and_a_role_path(spec_dir: Path) -> None:
    for role in (f"arn:aws-cn:iam::{ACCOUNT}:role/Exec",
                 f"arn:aws:iam::{ACCOUNT}:role/service-role/Exec"):
        data = copy.deepcopy(base_spec("iris-test", "smkit-inference:latest"))
        data["validation"]["role"] = role
        spec = spec_yaml.parse(data, spec_dir)
        assert spec.account == ACCOUNT
    data["validation"]["role"] = f"arn:aws:iam::{ACCOUNT}:role"
    with pytest.raises(UserError, match=r"validation.role: .* is not an IAM role ARN"):
        spec_yaml.parse(data, spec_dir)


def test_the_role_check_takes_the_same_roles_as_the_spec() -> None:
    role = f"arn:aws-cn:iam::{ACCOUNT}:role/service-role/Exec"
    assert check_role(None, role, field="validation.role", account=ACCOUNT).status == PASS
    bare = check_role(None, f"arn:aws:iam::{ACCOUNT}:role", field="validation.role")
    assert bare.status == FAIL
    assert bare.detail.startswith("validation.role 'arn:aws:iam::123456789012:role' is not an "
                                  "IAM role ARN")
    other = check_role(None, role, field="access role", account="999999999999")
    assert other.status == FAIL
    assert "is in account 123456789012, not the seller's account 999999999999" in other.detail


def test_the_catalog_takes_the_commercial_partition_and_no_role_path() -> None:
    """AWS Marketplace's schema is narrower than IAM: the listing rules hold it verbatim."""
    assert shapes.ROLE_ARN.ok(f"arn:aws:iam::{ACCOUNT}:role/MarketplaceAccess")
    assert not shapes.ROLE_ARN.ok(f"arn:aws-cn:iam::{ACCOUNT}:role/MarketplaceAccess")
    assert not shapes.ROLE_ARN.ok(f"arn:aws:iam::{ACCOUNT}:role/service-role/Access")
    assert shapes.PACKAGE_ARN.ok(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/x")
    assert not shapes.PACKAGE_ARN.ok(f"arn:aws-cn:sagemaker:cn-north-1:{ACCOUNT}:"
                                     "model-package/x")


def test_split_gives_the_six_parts_of_any_arn() -> None:
    assert arns.split(f"arn:aws:iam::{ACCOUNT}:role/a:b") == \
        arns.Arn("aws", "iam", "", ACCOUNT, "role/a:b")
    assert arns.split("MarketplaceAccess") is None
    assert arns.split("urn:a:b:c:d:e") is None
