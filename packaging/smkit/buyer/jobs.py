"""The buyer's side: from a model package ARN to predictions, in the cloud or on this machine.

Cloud (what a Marketplace buyer runs): ``CreateModel`` with ``ModelPackageName`` and
``EnableNetworkIsolation=True``, then ``CreateTransformJob`` over an S3 prefix on any number
of instances, built from the same ``TransformJob`` description smkit's local runner uses, and
checked against the model package before anything is created; a wait that shows status,
elapsed time and the software cost so far; the output's place and counts at the end (or the
failure reason and the CloudWatch log streams). On the emulators, moto only records the job,
so SageMaker's side runs here (``run_on_emulator``). The requests are built by pure functions
(``model_request``, ``TransformJob.request``).

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

from botocore.exceptions import BotoCoreError, ClientError

from smkit.aws.clients import Aws, call, connect
from smkit.core.errors import PlatformError, UserError
from smkit.image import docker
from smkit.local import sdk as localmode
from smkit.project.transform_job import TransformJob, container_environment, input_files
from smkit.transform.shard import ShardedRun, file_key, run_sharded

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


def split_s3(url: str, *, key_required: bool = True) -> tuple[str, str]:
    """(bucket, key) of an ``s3://bucket/key`` URL; with ``key_required`` False, of an
    ``s3://bucket[/prefix]`` one (the prefix may be empty)."""
    bucket, slash, key = url[5:].partition("/") if url.startswith("s3://") else ("", "", "")
    if not bucket or (key_required and not slash):
        what = "s3://bucket/key" if key_required else "s3://bucket/prefix"
        raise UserError(f"{url!r} is not an {what} URL")
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
                from smkit.aws.push import login_token

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


def local_transform(arn: str, data: Path | str, output_dir: Path | str, *,
                    job: TransformJob | None = None,
                    content_type: str | None = None, accept: str | None = None,
                    strategy: str | None = None, port: int | None = None,
                    registry: str | None = None, deadline_s: float = 600, echo: Echo = _quiet,
                    logs: TextIO | None = None) -> TransformOutcome:
    """The buyer's batch transform of ``data`` (file or folder) on this machine, from the ARN.

    ``job`` is the same description the cloud job is built from (``content_type``, ``accept``
    and ``strategy`` are shorthands that override it). One instance with the options the
    SDK's local mode knows runs under SDK local mode; more instances, DataProcessing,
    concurrency or the client settings run smkit's runner with one container per instance,
    the files sharded by key as SageMaker shards objects.
    """
    job = _job_with(job, content_type=content_type, accept=accept, strategy=strategy)
    job.validate()
    # Before any Path(): it would turn "s3://b/k" into "s3:/b/k".
    if str(data).startswith("s3://"):
        raise UserError("--local transforms local files; download the objects first, or "
                        "use --cloud for an s3:// input")
    if str(output_dir).startswith("s3://"):
        raise UserError("--local writes to a local --output folder; use --cloud for an "
                        "s3:// output")
    data, output_dir = Path(data), Path(output_dir)
    if not data.exists():
        raise UserError(f"--input {data} does not exist")
    with materialize(arn, registry=registry, echo=echo) as local:
        p = local.package
        job.validate_for(content_types=p.content_types, response_types=p.response_types,
                         transform_types=p.transform_types)
        if not _needs_own_runner(job):
            result = localmode.sdk_transform(
                local.image, local.tarball, data, output_dir, content_type=job.content_type,
                split_type=job.split_type, strategy=job.batch_strategy,
                assemble_with=job.assemble_with, accept=job.accept,
                max_payload_mb=job.max_payload_mb,
                env=container_environment(p.environment, job.environment), port=_port(port),
                deadline_s=deadline_s, logs=logs)
            return TransformOutcome(result.outputs, result.seconds, "SageMaker SDK local mode",
                                    {"image": local.image})
        run = run_sharded(job, [data], output_dir, image=local.image,
                          model=local.tarball, environment=p.environment, echo=echo)
    echo(run.summary())
    if not run.report.ok:
        failed = sum(1 for f in run.report.files.values() if not f.ok)
        raise PlatformError(f"{failed} of {len(run.report.files)} files failed; no .out was "
                            "written for them (see above)")
    outputs = [f.output for f in run.report.files.values() if f.output is not None]
    return TransformOutcome(outputs, run.report.seconds,
                            f"smkit's runner, {job.instance_count} container(s)",
                            {"image": local.image, "instances": str(job.instance_count)})


def _job_with(job: TransformJob | None, *, content_type: str | None, accept: str | None,
              strategy: str | None) -> TransformJob:
    job = job or TransformJob()
    changes: dict[str, Any] = {}
    if content_type is not None:
        changes["content_type"] = content_type
    if accept is not None:
        changes["accept"] = accept
    if strategy is not None:
        changes["batch_strategy"] = strategy
    return job.replace(**changes) if changes else job


def _needs_own_runner(job: TransformJob) -> bool:
    """True when SDK local mode cannot run the job as described (it runs one container,
    one request at a time, and has no DataProcessing or client settings)."""
    return (job.instance_count > 1 or job.uses_data_processing
            or job.max_concurrent_transforms not in (None, 1)
            or job.invocation_timeout_s is not None or job.invocation_retries is not None)


@contextmanager
def local_endpoint(arn: str, *, port: int | None = None, registry: str | None = None,
                   echo: Echo = _quiet, logs: TextIO | None = None
                   ) -> Iterator[localmode.LocalEndpoint]:
    """A local real-time endpoint of the package (SDK local mode), removed afterwards."""
    with materialize(arn, registry=registry, echo=echo) as local, localmode.local_endpoint(
            local.image, local.tarball, env=local.package.environment, port=_port(port),
            logs=logs) as endpoint:
        yield endpoint


# ----------------------------------------------------------------------------- cloud runs

#: Where SageMaker writes a transform job's logs (streams ``<job>/<instance-id>-<time>``,
#: and ``.../data-log`` for the records' errors).
LOG_GROUP = "/aws/sagemaker/TransformJobs"
TERMINAL = ("Completed", "Failed", "Stopped")


def model_request(name: str, arn: str, role_arn: str) -> dict[str, Any]:
    """CreateModel for a Marketplace model package, as buyers must run it (pure)."""
    return {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": arn},
        "ExecutionRoleArn": role_arn,
        "EnableNetworkIsolation": True,
    }


def s3_url(bucket: str, key: str) -> str:
    """``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"


def _prefix(url: str) -> tuple[str, str]:
    """(bucket, key prefix) of an ``s3://bucket[/prefix]`` URL (the prefix may be empty)."""
    return split_s3(url, key_required=False)


def _folder(key: str) -> str:
    """The part of an S3 prefix up to its last ``/`` (what output names are relative to)."""
    return key[: key.rfind("/") + 1]


def list_keys(s3: Any, url: str) -> list[str]:
    """Every object key under an S3 prefix, in S3's order (folder markers skipped)."""
    bucket, prefix = _prefix(url)
    keys: list[str] = []
    with call("s3", "ListObjectsV2"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
    return keys


def hourly_price_from_listing(listing: Path, instance_type: str) -> float | None:
    """The listing's batch software price per instance-hour for ``instance_type``, if the
    listing states one (``pricing.batch``); None when it does not (or says TODO)."""
    import yaml

    try:
        data = yaml.safe_load(Path(listing).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"--listing {listing}: cannot read it ({e})") from None
    pricing = data.get("pricing") if isinstance(data, dict) else None
    batch = pricing.get("batch") if isinstance(pricing, dict) else None
    value = batch.get(instance_type) if isinstance(batch, dict) else None
    try:
        return float(str(value).replace("$", "").strip()) if value is not None else None
    except ValueError:
        return None


def software_cost(instance_count: int, seconds: float, hourly_price: float) -> float:
    """Estimated software charge: instance-hours x the listing's hourly price."""
    return instance_count * seconds / 3600 * hourly_price


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(status: str, seconds: float, instance_count: int, instance_type: str,
                  hourly_price: float | None) -> str:
    """One line of a running job: status, elapsed time and, with a price, the cost so far."""
    line = f"{status} after {_duration(seconds)} on {instance_count} x {instance_type}"
    if hourly_price is not None:
        hours = instance_count * seconds / 3600
        cost = software_cost(instance_count, seconds, hourly_price)
        line += (f"; software cost so far about ${cost:,.2f} ({hours:.2f} instance-hours x "
                 f"${hourly_price:g}/h, plus the SageMaker instance price)")
    return line


def failure_message(job: Mapping[str, Any], streams: list[str]) -> str:
    """What a failed (or stopped) job says, and where its logs are (pure)."""
    name = job.get("TransformJobName", "?")
    where = (", ".join(streams) if streams
             else f"{name}/<instance-id>-<time> and its /data-log stream")
    return (f"transform job {name} is {job.get('TransformJobStatus')}: "
            f"{job.get('FailureReason') or 'no reason given'}\n"
            f"  the records' errors are in CloudWatch Logs: log group {LOG_GROUP}, "
            f"streams {where}")


def log_streams(aws: Aws, name: str) -> list[str]:
    """The job's CloudWatch log streams (empty when they cannot be listed)."""
    try:
        answer = aws.client("logs").describe_log_streams(logGroupName=LOG_GROUP,
                                                         logStreamNamePrefix=f"{name}/")
    except (BotoCoreError, ClientError):
        return []
    return [str(s["logStreamName"]) for s in answer.get("logStreams", [])]


def wait_for_job(aws: Aws, name: str, *, instance_count: int, instance_type: str,
                 hourly_price: float | None, timeout_s: float, echo: Echo,
                 interval_s: float = 15, report_every_s: float = 60,
                 started: float | None = None) -> dict[str, Any]:
    """Poll DescribeTransformJob until the job ends; a progress line at each change of
    status and every ``report_every_s`` (elapsed time from ``started``, a monotonic time,
    default now). Returns the last description."""
    sm = aws.client("sagemaker")
    started = time.monotonic() if started is None else started
    last_status, last_line = None, 0.0
    delay = min(2.0, interval_s)
    try:
        while True:
            with call("sagemaker", "DescribeTransformJob"):
                desc: dict[str, Any] = sm.describe_transform_job(TransformJobName=name)
            status = str(desc.get("TransformJobStatus"))
            now = time.monotonic()
            if status != last_status or now - last_line >= report_every_s:
                echo(progress_line(status, now - started, instance_count, instance_type,
                                   hourly_price))
                last_status, last_line = status, now
            if status in TERMINAL:
                return desc
            if now - started >= timeout_s:
                raise PlatformError(
                    f"transform job {name} is still {status} after {_duration(now - started)};"
                    " it keeps running: `aws sagemaker describe-transform-job "
                    f"--transform-job-name {name}` (stop it with stop-transform-job)")
            time.sleep(delay)
            delay = min(delay * 1.5, interval_s)
    except KeyboardInterrupt:
        raise UserError(f"stopped waiting; transform job {name} keeps running on SageMaker: "
                        f"`aws sagemaker stop-transform-job --transform-job-name {name}` "
                        "stops it") from None


def billed_seconds(desc: Mapping[str, Any], fallback: float) -> float:
    """The job's run time from its start and end times, else ``fallback``."""
    start, end = desc.get("TransformStartTime"), desc.get("TransformEndTime")
    if start is not None and end is not None:
        return max(0.0, (end - start).total_seconds())
    return fallback


def on_emulator(aws: Aws) -> bool:
    """True when the SageMaker endpoint in use is moto (``smkit emulators env``): it records
    transform jobs and marks them Completed without running anything."""
    from smkit.emulators.manager import is_moto

    endpoint = aws.client("sagemaker").meta.endpoint_url
    return "amazonaws.com" not in endpoint and is_moto(endpoint, timeout=2)


def run_on_emulator(aws: Aws, package: Package, job: TransformJob, input_uri: str,
                    output_uri: str, *, echo: Echo = _quiet) -> ShardedRun:
    """Do SageMaker's side of a transform job that moto only recorded: fetch the objects under
    ``input_uri``, run the package's image on this machine, one container per instance with
    the objects sharded by key, and put ``<key>.out`` under ``output_uri``.

    A failed file fails the job as on SageMaker (PlatformError with the records' errors).
    """
    s3 = aws.client("s3")
    in_bucket, in_prefix = _prefix(input_uri)
    out_bucket, out_prefix = _prefix(output_uri)
    base = _folder(in_prefix)
    out_base = out_prefix if not out_prefix or out_prefix.endswith("/") else out_prefix + "/"
    keys = list_keys(s3, input_uri)
    echo(f"emulator: moto runs no containers; SageMaker's side of the job runs here "
         f"({job.instance_count} container(s), {len(keys)} objects)")
    with tempfile.TemporaryDirectory(prefix="smkit-emulated-job-") as tmp:
        inputs, outputs = Path(tmp) / "input", Path(tmp) / "output"
        inputs.mkdir()
        for key in keys:
            target = inputs / key[len(base):]
            target.parent.mkdir(parents=True, exist_ok=True)
            with call("s3", "GetObject"):
                s3.download_file(in_bucket, key, str(target))
        tarball = fetch_artifact(aws, package.model_data_url, Path(tmp) / "model")
        image = resolve_image(aws, package.image, echo=echo)
        run = run_sharded(job, [inputs], outputs, image=image, model=tarball,
                          environment=package.environment, progress=False, echo=echo)
        for result in run.report.files.values():
            if result.output is None:
                continue
            rel = result.output.relative_to(outputs).as_posix()
            with call("s3", "PutObject"):
                s3.upload_file(str(result.output), out_bucket, out_base + rel)
        if not run.report.ok:
            # As on SageMaker, a file that fails fails the job; name the object, not the copy.
            first = next(x for f in run.report.files.values() for x in f.failures)
            where = first.describe().replace(f"{inputs}/", s3_url(in_bucket, base), 1)
            failed = sum(1 for f in run.report.files.values() if not f.ok)
            raise PlatformError(f"transform job failed (run here for the emulator): {failed} "
                                f"of {len(run.report.files)} files failed; first: {where}")
    return run


def cloud_transform(arn: str, data: Path | str, output: Path | str, *, role_arn: str,
                    s3_uri: str | None = None, job: TransformJob | None = None,
                    instance_type: str | None = None, content_type: str | None = None,
                    accept: str | None = None, strategy: str | None = None,
                    hourly_price: float | None = None, listing: Path | None = None,
                    timeout_s: float = CLOUD_TIMEOUT_S, keep_model: bool = False,
                    echo: Echo = _quiet) -> TransformOutcome:
    """The buyer's batch transform on SageMaker, driven end to end.

    ``data`` and ``output`` are ``s3://`` prefixes or local paths (a local input is uploaded
    and a local output folder gets the ``.out`` files downloaded; both go through ``s3_uri``).
    Everything is checked (``job`` against the model package, paths, role) before anything
    is created. Then CreateModel (network isolation), CreateTransformJob from ``job``, and a
    wait that shows status, elapsed time and, with an hourly price (given, or from the
    listing's ``pricing.batch``), the software cost so far. On the emulators, SageMaker's
    side runs here (``run_on_emulator``).
    """
    from smkit.project.spec import check_role_arn

    job = _job_with(job, content_type=content_type, accept=accept, strategy=strategy)
    if instance_type is not None:
        job = job.replace(instance_type=instance_type)
    job.validate()
    try:
        check_role_arn(role_arn)
    except ValueError as e:
        raise UserError(f"--role-arn: {e}") from None
    in_s3, out_s3 = str(data).startswith("s3://"), str(output).startswith("s3://")
    files: list[tuple[Path, Path]] = []
    if in_s3:
        _prefix(str(data))
    else:
        if not Path(data).exists():
            raise UserError(f"--input {data} does not exist (a local path, or an s3:// prefix)")
        files = input_files([Path(data)])
        if not files:
            raise UserError(f"--input {data} has no files")
    if out_s3:
        _prefix(str(output))
    if (not in_s3 or not out_s3) and not s3_uri:
        raise UserError("a local --input or --output goes through S3: give --s3-uri "
                        "s3://bucket/prefix for staging")
    name = f"smkit-buyer-{uuid.uuid4().hex[:12]}"
    staging = ""
    if s3_uri:
        bucket, prefix = _prefix(s3_uri)
        staging = s3_url(bucket, "/".join(p for p in (prefix.strip("/"), name) if p))
    input_uri = str(data) if in_s3 else f"{staging}/input/"
    output_uri = str(output) if out_s3 else f"{staging}/output/"
    if output_uri.startswith(input_uri):
        raise UserError(f"--output {output_uri} is under --input {input_uri}: the next job over "
                        "that prefix would transform these .out files too; write the output "
                        "to another prefix")

    aws = connect(region_of(arn))
    package = describe(aws, arn)
    instance = job.validate_for(content_types=package.content_types,
                                response_types=package.response_types,
                                transform_types=package.transform_types)
    job = job.replace(instance_type=instance)
    if hourly_price is None and listing is not None:
        hourly_price = hourly_price_from_listing(listing, instance)
        if hourly_price is None:
            echo(f"note: {listing} states no batch price for {instance}; no cost estimate")
    s3 = aws.client("s3")
    if in_s3:
        keys = list_keys(s3, input_uri)
        if not keys:
            raise UserError(f"no objects under {input_uri}; check the --input prefix")
        count_in = len(keys)
    else:
        count_in = len(files)
    if job.instance_count > count_in:
        echo(f"note: {job.instance_count} instances for {count_in} input object(s): "
             f"{job.instance_count - count_in} will be idle (and billed); batch transform "
             "gives each object to one instance")
    if not in_s3:
        bucket, key0 = _prefix(input_uri)
        for path, rel in files:
            with call("s3", "PutObject"):
                s3.upload_file(str(path), bucket, key0 + file_key((path, rel)))
        echo(f"uploaded {len(files)} input file(s) to {input_uri}")
    sm = aws.client("sagemaker")
    with call("sagemaker", "CreateModel"):
        sm.create_model(**model_request(name, arn, role_arn))
    try:
        request = job.request(name, name, input_uri, output_uri, instance_type=instance)
        with call("sagemaker", "CreateTransformJob"):
            sm.create_transform_job(**request)
        echo(f"transform job {name}: {count_in} object(s) from {input_uri} on "
             f"{job.instance_count} x {instance}")
        started = time.monotonic()
        if on_emulator(aws):
            run_on_emulator(aws, package, job, input_uri, output_uri, echo=echo)
        desc = wait_for_job(aws, name, instance_count=job.instance_count,
                            instance_type=instance, hourly_price=hourly_price,
                            timeout_s=timeout_s, echo=echo, started=started)
        seconds = time.monotonic() - started
        if desc.get("TransformJobStatus") != "Completed":
            raise PlatformError(failure_message(desc, log_streams(aws, name)))
        out_keys = [k for k in list_keys(s3, output_uri) if k.endswith(".out")]
        outputs: list[Path] = []
        if not out_s3:
            out_bucket, out_prefix = _prefix(output_uri)
            for key in out_keys:
                target = Path(output) / key[len(out_prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                with call("s3", "GetObject"):
                    s3.download_file(out_bucket, key, str(target))
                outputs.append(target)
    finally:
        if not keep_model:
            with call("sagemaker", "DeleteModel"):
                sm.delete_model(ModelName=name)
    details = {"job": name, "instance_type": instance,
               "instance_count": str(job.instance_count), "input": input_uri,
               "output": output_uri, "files_in": str(count_in),
               "files_out": str(len(out_keys))}
    if hourly_price is not None:
        cost = software_cost(job.instance_count, billed_seconds(desc, seconds), hourly_price)
        details["software_cost_usd"] = f"{cost:.2f}"
    return TransformOutcome(outputs, seconds, f"SageMaker transform job {name}", details)
