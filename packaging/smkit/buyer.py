"""The buyer's side: from a model package ARN to predictions, in the cloud or on this machine.

Cloud (what a Marketplace buyer runs): ``CreateModel`` with ``ModelPackageName`` and
``EnableNetworkIsolation=True``, ``CreateTransformJob``, botocore's
``transform_job_completed_or_stopped`` waiter, then the ``.out`` files are downloaded. The
requests are built by pure functions (``model_request``, ``transform_job_request``).

Local (offline, or a seller checking their own package): ``DescribeModelPackage`` gives the
image and ``ModelDataUrl``; the artifact is downloaded from S3 (moto when the emulators are
selected); the image is found locally by its digest, or pulled by digest from the registry
that stands in for ECR (``SMKIT_REGISTRY``), or from ECR itself after a token login; then it
runs under the SageMaker SDK's local mode (``smkit.localmode``).

No endpoint is set in code: boto3 reads ``AWS_ENDPOINT_URL*``, so the same calls reach the
emulators or AWS.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import WaiterError

from . import docker, localmode
from .aws import Aws, call, connect
from .errors import PlatformError, UserError

Echo = Callable[[str], None]

#: Env var naming the registry (host:port) that stands in for ECR (``smkit emulators env``).
REGISTRY_OVERRIDE = "SMKIT_REGISTRY"
PACKAGE_ARN_RE = re.compile(
    r"^arn:aws(-cn|-us-gov)?:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/[\w./-]+$"
)
IMAGE_RE = re.compile(
    r"^(?P<host>[^/]+)/(?P<repo>[^@:]+)(:[\w.-]+)?@(?P<digest>sha256:[0-9a-f]{64})$"
)
ECR_HOST_RE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
#: How long the cloud transform may run before smkit stops waiting (the job keeps going).
CLOUD_TIMEOUT_S = 4 * 3600


def _quiet(_: str) -> None:
    """Echo that prints nothing."""


def region_of(arn: str) -> str:
    """The region in a model package ARN; UserError when it is not one."""
    m = PACKAGE_ARN_RE.match(arn)
    if m is None:
        raise UserError(f"{arn!r} is not a model package ARN; expected "
                        "arn:aws:sagemaker:<region>:<account>:model-package/<name>")
    return m.group("region")


def split_s3(url: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://bucket/key`` URL."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise UserError(f"{url!r} is not an s3://bucket/key URL")
    bucket, _, key = url[5:].partition("/")
    return bucket, key


# ----------------------------------------------------------------------------- the package


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


def fetch_artifact(aws: Aws, url: str, folder: Path) -> Path:
    """Download ``model.tar.gz`` into ``folder`` (its own folder: local mode unpacks there)."""
    bucket, key = split_s3(url)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.tar.gz"
    with call("s3", "GetObject"):
        aws.client("s3").download_file(bucket, key, str(target))
    return target


# ----------------------------------------------------------------------------- the image


def local_image_by_digest(digest: str) -> str | None:
    """A local ``repo@digest`` reference to the image with that manifest digest, if any."""
    out = docker.docker("image", "ls", "--digests", "--format",
                        "{{.Repository}}\t{{.Digest}}", check=False).stdout.decode()
    for line in out.splitlines():
        repo, _, found = line.partition("\t")
        if found == digest and repo != "<none>":
            return f"{repo}@{digest}"
    return None


def resolve_image(aws: Aws, image: str, registry: str | None = None,
                  echo: Echo = _quiet) -> str:
    """A reference the local engine can run for the package's ``image`` (``host/repo@digest``).

    In order: an image already here with that digest; a pull by digest from ``registry``
    (the ECR stand-in, ``SMKIT_REGISTRY``); a pull from ECR after a token login. The digest
    is what the package certified, so whichever is found is the same image.
    """
    m = IMAGE_RE.match(image)
    if m is None:
        raise PlatformError(f"the model package's image {image!r} is not referenced by digest "
                            "(host/repo@sha256:...); smkit cannot tell which image to run")
    digest, repo, host = m.group("digest"), m.group("repo"), m.group("host")
    found = local_image_by_digest(digest)
    if found is not None:
        echo(f"image {digest[:19]}... is already here ({found.split('@')[0]})")
        return found
    registry = registry if registry is not None else os.environ.get(REGISTRY_OVERRIDE) or None
    with tempfile.TemporaryDirectory(prefix="smkit-buyer-docker-") as cfg:
        config_dir = Path(cfg)
        if registry:
            ref = f"{registry}/{repo}@{digest}"
        else:
            ref = image
            if ECR_HOST_RE.match(host):
                from .push import login_token

                user, password, _ = login_token(aws)
                login = docker.docker("login", "--username", user, "--password-stdin", host,
                                      config_dir=config_dir, input_bytes=password.encode(),
                                      timeout=120, check=False)
                if login.returncode != 0:
                    raise PlatformError(f"docker login {host} failed: "
                                        f"{login.stderr.decode(errors='replace').strip()}")
        echo(f"pulling {ref}")
        proc = docker.docker("pull", "-q", ref, config_dir=config_dir, timeout=1800,
                             check=False)
    if proc.returncode != 0:
        raise PlatformError(f"cannot get the model package's image {ref}: "
                            f"{proc.stderr.decode(errors='replace').strip()[-500:]}")
    return ref


# ----------------------------------------------------------------------------- local runs


@dataclass
class LocalPackage:
    """A model package made runnable here: the image reference and the downloaded artifact.

    The tarball goes to local mode as it is: the server checks it against its manifest at
    start-up, as it does under SageMaker.
    """

    package: Package
    image: str
    tarball: Path


@contextmanager
def materialize(arn: str, *, registry: str | None = None,
                echo: Echo = _quiet) -> Iterator[LocalPackage]:
    """Resolve ``arn`` and fetch its artifact and image; the artifact is removed afterwards."""
    aws = connect(region_of(arn))
    package = describe(aws, arn)
    echo(f"model package {arn}: image {package.image}, model {package.model_data_url}")
    with tempfile.TemporaryDirectory(prefix="smkit-buyer-") as tmp:
        tarball = fetch_artifact(aws, package.model_data_url, Path(tmp) / "download")
        image = resolve_image(aws, package.image, registry, echo)
        yield LocalPackage(package, image, tarball)


def _port(port: int | None) -> int:
    """The host port for local mode: the one asked for, else a free one (8080 may be busy)."""
    return port if port else docker.free_port()


@dataclass
class TransformOutcome:
    """What a buyer's transform produced."""

    outputs: list[Path]
    seconds: float
    where: str
    details: dict[str, str] = field(default_factory=dict)


def local_transform(arn: str, data: Path, output_dir: Path, *, content_type: str = "text/csv",
                    accept: str | None = None, strategy: str = "MultiRecord",
                    port: int | None = None, registry: str | None = None,
                    deadline_s: float = 600, echo: Echo = _quiet,
                    logs: TextIO | None = None) -> TransformOutcome:
    """The buyer's batch transform of ``data`` (file or folder) on this machine, from the ARN."""
    with materialize(arn, registry=registry, echo=echo) as local:
        _check_type(local.package, content_type, accept)
        result = localmode.sdk_transform(
            local.image, local.tarball, data, output_dir, content_type=content_type,
            split_type="Line", strategy=strategy, assemble_with="Line", accept=accept,
            env=local.package.environment, port=_port(port), deadline_s=deadline_s, logs=logs)
    return TransformOutcome(result.outputs, result.seconds, "SageMaker SDK local mode",
                            {"image": local.image})


@contextmanager
def local_endpoint(arn: str, *, port: int | None = None, registry: str | None = None,
                   echo: Echo = _quiet, logs: TextIO | None = None
                   ) -> Iterator[localmode.LocalEndpoint]:
    """A local real-time endpoint of the package (SDK local mode), removed afterwards."""
    with materialize(arn, registry=registry, echo=echo) as local, localmode.local_endpoint(
            local.image, local.tarball, env=local.package.environment, port=_port(port),
            logs=logs) as endpoint:
        yield endpoint


def _check_type(package: Package, content_type: str, accept: str | None) -> None:
    if package.content_types and content_type not in package.content_types:
        raise UserError(f"content type {content_type} is not supported by the model package; "
                        f"use one of {', '.join(package.content_types)}")
    if accept and package.response_types and accept not in package.response_types:
        raise UserError(f"accept {accept} is not supported by the model package; use one of "
                        f"{', '.join(package.response_types)}")


# ----------------------------------------------------------------------------- cloud runs


def model_request(name: str, arn: str, role_arn: str) -> dict[str, Any]:
    """CreateModel for a Marketplace model package, as buyers must run it (pure)."""
    return {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": arn},
        "ExecutionRoleArn": role_arn,
        "EnableNetworkIsolation": True,
    }


def transform_job_request(name: str, model_name: str, input_uri: str, output_uri: str, *,
                          instance_type: str, content_type: str, accept: str | None,
                          strategy: str = "MultiRecord") -> dict[str, Any]:
    """CreateTransformJob over an S3 prefix, one record per line (pure)."""
    output: dict[str, Any] = {"S3OutputPath": output_uri, "AssembleWith": "Line"}
    if accept:
        output["Accept"] = accept
    return {
        "TransformJobName": name,
        "ModelName": model_name,
        "BatchStrategy": strategy,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": content_type,
            "SplitType": "Line",
        },
        "TransformOutput": output,
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": 1},
    }


def _files(data: Path) -> list[Path]:
    data = Path(data)
    if data.is_file():
        return [data]
    if data.is_dir():
        files = sorted(p for p in data.iterdir() if p.is_file())
        if files:
            return files
    raise UserError(f"input {data} is neither a file nor a folder with files")


def cloud_transform(arn: str, data: Path, output_dir: Path, *, role_arn: str, s3_uri: str,
                    instance_type: str | None = None, content_type: str = "text/csv",
                    accept: str | None = None, strategy: str = "MultiRecord",
                    timeout_s: float = CLOUD_TIMEOUT_S, keep_model: bool = False,
                    echo: Echo = _quiet) -> TransformOutcome:
    """The buyer's batch transform on SageMaker: upload, CreateModel (network isolation),
    CreateTransformJob, wait, download ``<name>.out`` files into ``output_dir``."""
    from .spec import check_role_arn

    try:
        check_role_arn(role_arn)
    except ValueError as e:
        raise UserError(f"--role-arn: {e}") from None
    bucket, prefix = split_s3(s3_uri.rstrip("/") + "/")
    aws = connect(region_of(arn))
    package = describe(aws, arn)
    _check_type(package, content_type, accept)
    instance = instance_type or (package.transform_types or ["ml.m5.large"])[0]
    if package.transform_types and instance not in package.transform_types:
        raise UserError(f"--instance-type {instance} is not supported by the package; use one "
                        f"of {', '.join(package.transform_types)}")
    name = f"smkit-buyer-{uuid.uuid4().hex[:12]}"
    base = f"{prefix.rstrip('/')}/{name}".lstrip("/")
    sm, s3 = aws.client("sagemaker"), aws.client("s3")
    files = _files(data)
    for path in files:
        with call("s3", "PutObject"):
            s3.upload_file(str(path), bucket, f"{base}/input/{path.name}")
    echo(f"uploaded {len(files)} input file(s) to s3://{bucket}/{base}/input/")
    with call("sagemaker", "CreateModel"):
        sm.create_model(**model_request(name, arn, role_arn))
    try:
        request = transform_job_request(
            name, name, f"s3://{bucket}/{base}/input/", f"s3://{bucket}/{base}/output/",
            instance_type=instance, content_type=content_type, accept=accept, strategy=strategy)
        with call("sagemaker", "CreateTransformJob"):
            sm.create_transform_job(**request)
        echo(f"transform job {name} on {instance} started; waiting (minutes) ...")
        started = time.monotonic()
        delay = 30
        try:
            sm.get_waiter("transform_job_completed_or_stopped").wait(
                TransformJobName=name,
                WaiterConfig={"Delay": delay, "MaxAttempts": max(1, int(timeout_s // delay))})
        except WaiterError as e:
            # A Failed job ends the waiter too; its FailureReason is read just below.
            if "terminal failure state" not in str(e):
                raise PlatformError(f"transform job {name}: {e}") from e
        seconds = time.monotonic() - started
        with call("sagemaker", "DescribeTransformJob"):
            job = sm.describe_transform_job(TransformJobName=name)
        if job.get("TransformJobStatus") != "Completed":
            raise PlatformError(f"transform job {name} is {job.get('TransformJobStatus')}: "
                                f"{job.get('FailureReason', 'no reason given')}")
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        outputs = []
        for path in files:
            target = output_dir / f"{path.name}.out"
            with call("s3", "GetObject"):
                s3.download_file(bucket, f"{base}/output/{path.name}.out", str(target))
            outputs.append(target)
    finally:
        if not keep_model:
            with call("sagemaker", "DeleteModel"):
                sm.delete_model(ModelName=name)
    return TransformOutcome(outputs, seconds, f"SageMaker transform job {name}",
                            {"job": name, "instance_type": instance})
