"""``smkit publish``: a Marketplace-certified SageMaker model package, created once.

The requests are built by pure functions from the spec (unit-tested against expected dicts);
a thin sender uploads the artifact and validation data to S3, creates the package and waits
for validation with one shared poll helper.

Re-runs converge: the request (which names the artifact and validation data by their
content hashes and the image by digest) is hashed into an idempotency key, stamped on the
package in smkit's own metadata: ``CustomerMetadataProperties``, a tag and the ClientToken,
never in a text a buyer reads. Before creating, smkit looks for a package carrying that key
and reuses it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smkit.aws.clients import Aws, call, error_code, poll
from smkit.core.errors import PlatformError, UserError
from smkit.image.artifact import Artifact
from smkit.project.spec import ECR_URI_RE, Spec

MARKER_PREFIX = "[smkit:"
TAG_KEY = "smkit:idempotency-key"
#: Statuses after which nothing changes any more.
TERMINAL = frozenset({"Completed", "Failed", "Deleting"})
PENDING = frozenset({"NotStarted", "InProgress", "Pending"})
Echo = Callable[[str], None]


# ----------------------------------------------------------------------------- pure builders


def s3_layout(spec: Spec, artifact_sha256: str, validation_sha256: str) -> dict[str, str]:
    """S3 URIs of the artifact, validation input and output; content-addressed, so stable."""
    base = f"s3://{spec.s3.bucket}/" + "/".join(p for p in (spec.s3.prefix, spec.name) if p)
    return {
        "model_data": f"{base}/model/{artifact_sha256[:16]}/model.tar.gz",
        "validation_input": f"{base}/validation/{validation_sha256[:16]}/"
                            f"{spec.validation.input.name}",
        "validation_output": f"{base}/validation-output/",
    }


def group_request(spec: Spec) -> dict[str, Any]:
    """CreateModelPackageGroup request for a versioned spec."""
    if spec.group is None:
        raise ValueError("the spec has no group")
    return {
        "ModelPackageGroupName": spec.group,
        "ModelPackageGroupDescription": (spec.description or spec.name)[:1024],
    }


def transform_job_definition(spec: Spec, input_uri: str, output_uri: str) -> dict[str, Any]:
    """The validation profile's TransformJobDefinition (the job's one request builder)."""
    return spec.validation.job(spec.environment).definition(input_uri, output_uri)


def model_package_request(spec: Spec, image_ref: str, uris: dict[str, str]) -> dict[str, Any]:
    """CreateModelPackage request, without the idempotency stamp (see ``stamp``).

    ``image_ref`` must be an ECR URI by digest in the spec's region (and account, if known).
    """
    m = ECR_URI_RE.match(image_ref)
    if m is None or not (m.group("ref") or "").startswith("@sha256:"):
        raise UserError(f"image {image_ref!r} is not an ECR image by digest "
                        "(<acct>.dkr.ecr.<region>.amazonaws.com/repo@sha256:...); run smkit push")
    if m.group("region") != spec.region:
        raise UserError(f"image {image_ref} is in {m.group('region')}, the spec's region is "
                        f"{spec.region}; push the image to ECR in {spec.region}")
    if spec.account and m.group("account") != spec.account:
        raise UserError(f"image {image_ref} is in account {m.group('account')}, the spec's "
                        f"roles are in {spec.account}; use one account")
    container: dict[str, Any] = {"Image": image_ref, "ModelDataUrl": uris["model_data"]}
    if spec.environment:
        container["Environment"] = dict(spec.environment)
    request: dict[str, Any] = {
        "ModelPackageDescription": spec.description,
        "InferenceSpecification": {
            "Containers": [container],
            "SupportedContentTypes": list(spec.content_types),
            "SupportedResponseMIMETypes": list(spec.response_types),
            "SupportedRealtimeInferenceInstanceTypes": list(spec.instance_types.realtime),
            "SupportedTransformInstanceTypes": list(spec.instance_types.transform),
        },
        "ValidationSpecification": {
            "ValidationRole": spec.validation.role,
            "ValidationProfiles": [{
                "ProfileName": spec.validation.profile_name,
                "TransformJobDefinition": transform_job_definition(
                    spec, uris["validation_input"], uris["validation_output"]),
            }],
        },
        "CertifyForMarketplace": True,
    }
    if spec.group is not None:
        request["ModelPackageGroupName"] = spec.group
    else:
        request["ModelPackageName"] = spec.name
    return request


def idempotency_key(request: dict[str, Any]) -> str:
    """sha256 of the request's canonical JSON: same spec and content, same key."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def marker(key: str) -> str:
    """The description marker of packages made by smkit 0.1 (still found, never written)."""
    return f"{MARKER_PREFIX}{key[:32]}]"


def strip_marker(text: str) -> str:
    """``text`` without an old smkit idempotency marker, which must never reach buyers."""
    return re.sub(r"\s*\[smkit:[0-9a-f]{8,64}\]", "", text).strip()


def stamp(request: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Add the idempotency key to a request: metadata property, tag, ClientToken.

    Unversioned packages get the key's first 10 characters appended to their name, since
    names are unique per account and a changed model needs a new package.
    """
    key = idempotency_key(request)
    out = copy.deepcopy(request)
    out["CustomerMetadataProperties"] = {TAG_KEY: key[:32]}
    out["Tags"] = [{"Key": TAG_KEY, "Value": key[:32]}]
    out["ClientToken"] = key[:36]
    if "ModelPackageName" in out:
        # SageMaker names are at most 63 characters: keep room for "-" and the key.
        base = out["ModelPackageName"][:52].rstrip("-")
        out["ModelPackageName"] = f"{base}-{key[:10]}"
    return out, key


def describe_state(desc: dict[str, Any]) -> str:
    """One line: package status and each validation/scan status."""
    details = desc.get("ModelPackageStatusDetails") or {}
    parts = [f"package {desc.get('ModelPackageStatus', '?')}"]
    for kind, label in (("ValidationStatuses", "validation"), ("ImageScanStatuses", "scan")):
        for s in details.get(kind) or []:
            parts.append(f"{label} {s.get('Status', '?')}")
    return ", ".join(parts)


def is_finished(desc: dict[str, Any]) -> bool:
    """True when neither the package nor its validation or scan will change any more."""
    if desc.get("ModelPackageStatus") not in TERMINAL:
        return False
    details = desc.get("ModelPackageStatusDetails") or {}
    statuses = [s.get("Status") for k in ("ValidationStatuses", "ImageScanStatuses")
                for s in details.get(k) or []]
    return not any(s in PENDING for s in statuses)


def failures(desc: dict[str, Any]) -> list[str]:
    """What failed, with SageMaker's reasons."""
    out = []
    if desc.get("ModelPackageStatus") == "Failed":
        out.append("the model package failed")
    details = desc.get("ModelPackageStatusDetails") or {}
    for kind, label in (("ValidationStatuses", "validation"), ("ImageScanStatuses", "image scan")):
        for s in details.get(kind) or []:
            if s.get("Status") == "Failed":
                reason = s.get("FailureReason", "no reason given")
                out.append(f"{label} {s.get('Name', '')}: {reason}")
    return out


# ----------------------------------------------------------------------------- sender


@dataclass
class Published:
    """The outcome of ``publish``."""

    arn: str
    status: str
    created: bool
    key: str
    uris: dict[str, str]
    request: dict[str, Any] = field(repr=False)
    failures: list[str] = field(default_factory=list)


def check_account(aws: Aws, spec: Spec) -> str:
    """The credentials' account; UserError when the spec's ARNs name another one."""
    account = aws.account_id()
    if spec.account and spec.account != account:
        raise UserError(f"the AWS credentials are for account {account} but the spec's roles/"
                        f"account_id are in {spec.account}; use the seller account's credentials")
    return account


def ensure_bucket(aws: Aws, spec: Spec) -> None:
    """Create the bucket if missing; refuse one in another region."""
    s3 = aws.client("s3")
    try:
        with call("s3", "GetBucketLocation"):
            loc = s3.get_bucket_location(Bucket=spec.s3.bucket).get("LocationConstraint")
    except PlatformError as e:
        if error_code(e.__cause__ or e) != "NoSuchBucket":
            raise
        kwargs: dict[str, Any] = {"Bucket": spec.s3.bucket}
        if spec.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": spec.region}
        with call("s3", "CreateBucket"):
            s3.create_bucket(**kwargs)
        return
    bucket_region = loc or "us-east-1"
    if bucket_region != spec.region:
        raise UserError(f"s3.bucket: {spec.s3.bucket} is in {bucket_region} but region is "
                        f"{spec.region}; SageMaker needs the artifact in the same region")


def upload(aws: Aws, path: Path, uri: str, sha256: str, owner: str | None = None) -> bool:
    """Upload ``path`` to ``uri`` unless an object with the same sha256 is there; True if sent.

    With ``owner``, S3 refuses (403) a bucket that belongs to another account.
    """
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = aws.client("s3")
    guard = {"ExpectedBucketOwner": owner} if owner else {}
    try:
        with call("s3", "HeadObject"):
            head = s3.head_object(Bucket=bucket, Key=key, **guard)
        if head.get("Metadata", {}).get("sha256") == sha256:
            return False
    except PlatformError as e:
        if error_code(e.__cause__ or e) not in ("404", "NoSuchKey", "NotFound"):
            raise
    with call("s3", "PutObject"), open(path, "rb") as f:
        s3.put_object(Bucket=bucket, Key=key, Body=f, Metadata={"sha256": sha256}, **guard)
    return True


def find_existing(aws: Aws, spec: Spec, request: dict[str, Any], key: str) -> str | None:
    """ARN of a package created earlier from the same request, if any."""
    sm = aws.client("sagemaker")
    if "ModelPackageName" in request:
        try:
            with call("sagemaker", "DescribeModelPackage"):
                desc = sm.describe_model_package(ModelPackageName=request["ModelPackageName"])
        except PlatformError as e:
            if "not found" in str(e).lower() or "does not exist" in str(e).lower():
                return None
            raise
        return str(desc["ModelPackageArn"])
    kwargs = {"ModelPackageGroupName": request["ModelPackageGroupName"]}
    with call("sagemaker", "ListModelPackages"):
        pages = sm.get_paginator("list_model_packages").paginate(**kwargs)
        for page in pages:
            for summary in page.get("ModelPackageSummaryList", []):
                arn = str(summary["ModelPackageArn"])
                if marker(key) in (summary.get("ModelPackageDescription") or ""):
                    return arn
                with call("sagemaker", "DescribeModelPackage"):
                    desc = sm.describe_model_package(ModelPackageName=arn)
                if (desc.get("CustomerMetadataProperties") or {}).get(TAG_KEY) == key[:32]:
                    return arn
    return None


def ensure_group(aws: Aws, spec: Spec) -> None:
    """Create the model package group if it does not exist."""
    sm = aws.client("sagemaker")
    try:
        with call("sagemaker", "DescribeModelPackageGroup"):
            sm.describe_model_package_group(ModelPackageGroupName=spec.group)
        return
    except PlatformError as e:
        if "not found" not in str(e).lower() and "does not exist" not in str(e).lower():
            raise
    with call("sagemaker", "CreateModelPackageGroup"):
        sm.create_model_package_group(**group_request(spec))


def wait(aws: Aws, arn: str, echo: Echo, timeout: float = 6 * 3600,
         interval: float = 10) -> dict[str, Any]:
    """Poll DescribeModelPackage until validation ends, echoing each change of state."""
    sm = aws.client("sagemaker")

    def fetch() -> dict[str, Any]:
        with call("sagemaker", "DescribeModelPackage"):
            return dict(sm.describe_model_package(ModelPackageName=arn))

    return poll(fetch, is_finished, describe=describe_state,
                on_change=lambda s, t: echo(f"  [{t:6.0f} s] {s}"),
                timeout=timeout, interval=interval, what=f"validation of {arn}")


def publish(spec: Spec, aws: Aws, artifact: Artifact, image_ref: str, echo: Echo, *,
            wait_for: bool = True, timeout: float = 6 * 3600, interval: float = 10) -> Published:
    """Upload, create (or find) the model package, and wait for its validation."""
    account = check_account(aws, spec)
    validation_sha = hashlib.sha256(spec.validation.input.read_bytes()).hexdigest()
    uris = s3_layout(spec, artifact.sha256, validation_sha)
    request, key = stamp(model_package_request(spec, image_ref, uris))
    ensure_bucket(aws, spec)
    for path, uri, sha in ((artifact.path, uris["model_data"], artifact.sha256),
                           (spec.validation.input, uris["validation_input"], validation_sha)):
        sent = upload(aws, path, uri, sha, owner=account)
        echo(f"{'uploaded' if sent else 'already in S3'}: {uri}")
    existing = find_existing(aws, spec, request, key)
    created = existing is None
    if existing is None:
        if spec.group is not None:
            ensure_group(aws, spec)
        with call("sagemaker", "CreateModelPackage"):
            arn = str(aws.client("sagemaker").create_model_package(**request)["ModelPackageArn"])
        echo(f"created model package {arn}")
    else:
        arn = existing
        echo(f"model package already exists for this spec and content: {arn}")
    if wait_for:
        desc = wait(aws, arn, echo, timeout=timeout, interval=interval)
    else:
        with call("sagemaker", "DescribeModelPackage"):
            desc = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
    return Published(arn=arn, status=describe_state(desc), created=created, key=key, uris=uris,
                     request=request, failures=failures(desc))
