"""The model package a buyer runs: its ARN's region, and the facts DescribeModelPackage gives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smkit.aws.clients import Aws, call
from smkit.core import arns
from smkit.core.errors import PlatformError, UserError


def region_of(arn: str) -> str:
    """The region in a model package ARN; UserError when it is not one."""
    try:
        return arns.package_arn(arn).region
    except ValueError as e:
        raise UserError(str(e)) from None


@dataclass(frozen=True)
class Package:
    """What a buyer's run needs from ``DescribeModelPackage``."""

    arn: str
    status: str
    image: str
    model_data_url: str
    environment: dict[str, str]
    content_types: list[str]
    response_types: list[str]
    transform_types: list[str]
    realtime_types: list[str]


def package_from_description(desc: Mapping[str, Any]) -> Package:
    """Pick the buyer's facts out of a DescribeModelPackage answer (pure)."""
    spec = desc.get("InferenceSpecification") or {}
    containers = spec.get("Containers") or []
    if not containers:
        raise PlatformError(f"model package {desc.get('ModelPackageArn')} has no containers in "
                            "its InferenceSpecification")
    first = containers[0]
    image, data = first.get("Image"), first.get("ModelDataUrl")
    if not image or not data:
        raise PlatformError(f"model package {desc.get('ModelPackageArn')} has no Image or no "
                            "ModelDataUrl; it cannot be run")
    return Package(
        arn=str(desc.get("ModelPackageArn", "")),
        status=str(desc.get("ModelPackageStatus", "")),
        image=str(image),
        model_data_url=str(data),
        environment={str(k): str(v) for k, v in (first.get("Environment") or {}).items()},
        content_types=list(spec.get("SupportedContentTypes") or []),
        response_types=list(spec.get("SupportedResponseMIMETypes") or []),
        transform_types=list(spec.get("SupportedTransformInstanceTypes") or []),
        realtime_types=list(spec.get("SupportedRealtimeInferenceInstanceTypes") or []),
    )


def describe(aws: Aws, arn: str) -> Package:
    """DescribeModelPackage, as a Package; refuses one that is not Completed."""
    with call("sagemaker", "DescribeModelPackage"):
        desc = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
    package = package_from_description(desc)
    if package.status and package.status != "Completed":
        raise PlatformError(f"model package {arn} is {package.status}, not Completed; wait "
                            "for validation to finish")
    return package
