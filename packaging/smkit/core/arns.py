"""Amazon Resource Names: the one grammar every smkit caller parses and checks them with.

An ARN is ``arn:<partition>:<service>:<region>:<account>:<resource>``. smkit reads two kinds:

- IAM roles, ``arn:<partition>:iam::<account>:role<path><name>``: the name is 1-64 of
  ``[A-Za-z0-9_+=,.@-]``, the path ``/`` or ``/<printable ASCII>/`` up to 512 characters
  (IAM's ``roleNameType`` and ``pathType``), so ``role/service-role/X`` is a role too;
- SageMaker model packages, ``arn:<partition>:sagemaker:<region>:<account>:model-package/
  <name>[/<version>]`` (SageMaker's ``EntityName``, and the version of a package in a group).

Both are valid in every AWS partition (``PARTITIONS``). AWS Marketplace's Catalog API is
narrower: its published change-type schema takes the commercial partition only and an access
role without a path; ``CATALOG_PACKAGE_ARN`` and ``CATALOG_ROLE_ARN`` hold its patterns
verbatim, for the listing rules (``smkit.listing.rules.shapes``).

Standard library only: the spec (below the AWS layer) and the listing rules the Catalog
emulator shares import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Every AWS partition (botocore's ``partitions.json``; a test compares the two).
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f",
              "aws-eusc")
#: IAM's limit on a role path (``pathType``).
ROLE_PATH_MAX = 512

_PARTITION = "(?P<partition>" + "|".join(
    re.escape(p) for p in sorted(PARTITIONS, key=len, reverse=True)) + ")"
_ACCOUNT = r"(?P<account>\d{12})"
# us-east-1, cn-north-1, us-gov-west-1, us-isob-east-1, eu-isoe-west-1, eusc-de-east-1
_REGION = r"(?P<region>[a-z]{2,4}(?:-[a-z]+)+-\d{1,2})"

ROLE_ARN_RE = re.compile(
    rf"^arn:{_PARTITION}:iam::{_ACCOUNT}:role(?P<path>/(?:[!-~]+/)?)(?P<name>[\w+=,.@-]{{1,64}})$",
    re.ASCII,
)
PACKAGE_ARN_RE = re.compile(
    rf"^arn:{_PARTITION}:sagemaker:{_REGION}:{_ACCOUNT}:model-package/"
    r"(?P<name>[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62})(?:/(?P<version>[0-9]{1,9}))?$"
)

#: The Catalog API's SageMakerModelPackageArn (MachineLearningProduct@1.0 schema, verbatim).
CATALOG_PACKAGE_ARN = r"^arn:aws:sagemaker:[a-z0-9-]{4,24}:[0-9]{12}:model-package\/\S{1,2048}$"
#: The Catalog API's AccessRoleArn (MachineLearningProduct@1.0 schema, verbatim): no path.
CATALOG_ROLE_ARN = r"^arn:aws:iam::\d{12}:role(\/[A-Za-z0-9_+=,.@-]+)?$"

#: How a role ARN looks, for messages.
ROLE_ARN_FORM = "arn:aws:iam::<12-digit account>:role/<name>"
#: How a model package ARN looks, for messages.
PACKAGE_ARN_FORM = "arn:aws:sagemaker:<region>:<account>:model-package/<name>"


@dataclass(frozen=True)
class Arn:
    """Any ARN, split into its six parts (nothing checked beyond the split)."""

    partition: str
    service: str
    region: str
    account: str
    resource: str


@dataclass(frozen=True)
class RoleArn:
    """An IAM role ARN; ``path`` is ``/`` for a role made without one."""

    partition: str
    account: str
    path: str
    name: str


@dataclass(frozen=True)
class PackageArn:
    """A SageMaker model package ARN; ``version`` is set for a package in a group."""

    partition: str
    region: str
    account: str
    name: str
    version: int | None


def split(arn: str) -> Arn | None:
    """The six parts of ``arn``, or None when it is not ``arn:...`` with six parts."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return Arn(*parts[1:])


def role_arn(value: str) -> RoleArn:
    """``value`` as an IAM role ARN; ValueError saying how the ARN looks when it is not one."""
    if not value.startswith("arn:"):
        raise ValueError(
            f"{value!r} is a role name; SageMaker needs the role ARN, "
            f"e.g. arn:aws:iam::123456789012:role/{value.split('/')[-1] or 'MyRole'}"
        )
    m = ROLE_ARN_RE.match(value)
    if m is None or len(m.group("path")) > ROLE_PATH_MAX:
        raise ValueError(f"{value!r} is not an IAM role ARN; expected {ROLE_ARN_FORM} "
                         "(a role name is 1-64 of A-Z a-z 0-9 _+=,.@-)")
    return RoleArn(m.group("partition"), m.group("account"), m.group("path"), m.group("name"))


def package_arn(value: str) -> PackageArn:
    """``value`` as a model package ARN; ValueError saying how the ARN looks when it is not."""
    m = PACKAGE_ARN_RE.match(value)
    if m is None:
        raise ValueError(f"{value!r} is not a model package ARN; expected {PACKAGE_ARN_FORM}")
    version = m.group("version")
    return PackageArn(m.group("partition"), m.group("region"), m.group("account"),
                      m.group("name"), int(version) if version else None)
