"""The buyer's jobs, end to end: from a model package ARN to predictions, in the cloud or here.

Cloud (what a Marketplace buyer runs): ``CreateModel`` with ``ModelPackageName`` and
``EnableNetworkIsolation=True``, then ``CreateTransformJob`` over an S3 prefix on any number
of instances, built from the same ``TransformJob`` description smkit's local runner uses, and
checked against the model package before anything is created; the wait (``buyer.wait``) shows
status, elapsed time and the software cost so far (``buyer.billing``); the output's place and
counts at the end (or the failure reason and the CloudWatch log streams). On the emulators,
moto only records the job, so SageMaker's side runs here (``buyer.emulated``). The requests
are built by pure functions (``model_request``, ``TransformJob.request``).

Local (offline, or a seller checking their own package): ``DescribeModelPackage`` gives the
image and ``ModelDataUrl`` (``buyer.package``); the artifact is downloaded from S3
(``buyer.staging``; moto when the emulators are selected); the image is found or pulled by
its digest (``buyer.image``); then it runs under the SageMaker SDK's local mode
(``smkit.local.sdk``), or smkit's runner for what local mode cannot do.

No endpoint is set in code: boto3 reads ``AWS_ENDPOINT_URL*``, so the same calls reach the
emulators or AWS.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from smkit.aws.clients import Aws, call, connect
from smkit.buyer import s3split
from smkit.buyer.billing import billed_seconds, hourly_price_from_listing, software_cost
from smkit.buyer.emulated import on_emulator, run_on_emulator
from smkit.buyer.image import quiet, resolve_image
from smkit.buyer.package import Package, describe, region_of
from smkit.buyer.staging import fetch_artifact, list_keys, s3_url, split_prefix
from smkit.buyer.wait import failure_message, log_streams, wait_for_job
from smkit.core import arns
from smkit.core.errors import PlatformError, UserError
from smkit.image import docker
from smkit.local import sdk as localmode
from smkit.project.transform_job import TransformJob, container_environment, input_files
from smkit.transform import rates
from smkit.transform.runner import TransformReport
from smkit.transform.shard import Echo, ShardedRun, file_key, run_sharded
from smkit.transform.split import check_splittable

#: How long the cloud transform may run before smkit stops waiting (the job keeps going).
CLOUD_TIMEOUT_S = 4 * 3600


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
                echo: Echo = quiet) -> Iterator[LocalPackage]:
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
    #: smkit's runner's report, when smkit's runner ran the job (its records and rates).
    report: TransformReport | None = None


def local_transform(arn: str, data: Path | str, output_dir: Path | str, *,
                    job: TransformJob | None = None,
                    content_type: str | None = None, accept: str | None = None,
                    strategy: str | None = None, port: int | None = None,
                    registry: str | None = None, deadline_s: float = 600, echo: Echo = quiet,
                    logs: TextIO | None = None, split: bool = False) -> TransformOutcome:
    """The buyer's batch transform of ``data`` (file or folder) on this machine, from the ARN.

    ``job`` is the same description the cloud job is built from (``content_type``, ``accept``
    and ``strategy`` are shorthands that override it). One instance with the options the
    SDK's local mode knows runs under SDK local mode; more instances, DataProcessing,
    concurrency or the client settings run smkit's runner with one container per instance,
    the files sharded by key as SageMaker shards objects. With ``split``, large files are
    cut at record boundaries so every instance gets work (``smkit.transform.split``).
    """
    job = _job_with(job, content_type=content_type, accept=accept, strategy=strategy)
    job.validate()
    if split:
        check_splittable(job)
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
        if not (split or _needs_own_runner(job)):
            result = localmode.sdk_transform(
                local.image, local.tarball, data, output_dir, content_type=job.content_type,
                split_type=job.split_type, strategy=job.batch_strategy,
                assemble_with=job.assemble_with, accept=job.accept,
                max_payload_mb=job.max_payload_mb,
                env=container_environment(p.environment, job.environment), port=_port(port),
                deadline_s=deadline_s, logs=logs)
            if result.served is not None and result.served.records:
                # The SDK times nothing per request: the server's access log does.
                echo(rates.rate_line(result.served.records, result.served.seconds))
                startup = rates.startup_line([result.served.startup_s]
                                             if result.served.startup_s is not None else [])
                if startup:
                    echo(startup)
            return TransformOutcome(result.outputs, result.seconds, "SageMaker SDK local mode",
                                    {"image": local.image})
        run = run_sharded(job, [data], output_dir, image=local.image,
                          model=local.tarball, environment=p.environment, split=split,
                          echo=echo)
    echo(run.summary())
    if not run.report.ok:
        failed = sum(1 for f in run.report.files.values() if not f.ok)
        raise PlatformError(f"{failed} of {len(run.report.files)} files failed; no .out was "
                            "written for them (see above)")
    outputs = [f.output for f in run.report.files.values() if f.output is not None]
    return TransformOutcome(outputs, run.report.seconds,
                            f"smkit's runner, {job.instance_count} container(s)",
                            {"image": local.image, "instances": str(job.instance_count)},
                            run.report)


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
                   echo: Echo = quiet, logs: TextIO | None = None
                   ) -> Iterator[localmode.LocalEndpoint]:
    """A local real-time endpoint of the package (SDK local mode), removed afterwards."""
    with materialize(arn, registry=registry, echo=echo) as local, localmode.local_endpoint(
            local.image, local.tarball, env=local.package.environment, port=_port(port),
            logs=logs) as endpoint:
        yield endpoint


# ----------------------------------------------------------------------------- cloud runs


def model_request(name: str, arn: str, role_arn: str) -> dict[str, Any]:
    """CreateModel for a Marketplace model package, as buyers must run it (pure)."""
    return {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": arn},
        "ExecutionRoleArn": role_arn,
        "EnableNetworkIsolation": True,
    }


def cloud_transform(arn: str, data: Path | str, output: Path | str, *, role_arn: str,
                    s3_uri: str | None = None, job: TransformJob | None = None,
                    instance_type: str | None = None, content_type: str | None = None,
                    accept: str | None = None, strategy: str | None = None,
                    hourly_price: float | None = None, listing: Path | None = None,
                    timeout_s: float = CLOUD_TIMEOUT_S, keep_model: bool = False,
                    split: bool = False, echo: Echo = quiet) -> TransformOutcome:
    """The buyer's batch transform on SageMaker, driven end to end.

    ``data`` and ``output`` are ``s3://`` prefixes or local paths (a local input is uploaded
    and a local output folder gets the ``.out`` files downloaded; both go through ``s3_uri``).
    Everything is checked (``job`` against the model package, paths, role) before anything
    is created. Then CreateModel (network isolation), CreateTransformJob from ``job``, and a
    wait that shows status, elapsed time and, with an hourly price (given, or from the
    listing's ``pricing.batch``), the software cost so far. On the emulators, SageMaker's
    side runs here (``run_on_emulator``). With ``split``, large inputs are cut into parts at
    record boundaries (a local file as it is uploaded, an S3 object inside S3), the job reads
    the parts, their outputs are joined into each input's ``<key>.out``, and the parts and
    part outputs are deleted, also when the job fails (``smkit.buyer.s3split``).
    """
    job = _job_with(job, content_type=content_type, accept=accept, strategy=strategy)
    if instance_type is not None:
        job = job.replace(instance_type=instance_type)
    job.validate()
    if split:
        check_splittable(job)
    try:
        arns.role_arn(role_arn)
    except ValueError as e:
        raise UserError(f"--role-arn: {e}") from None
    places = _cloud_places(data, output, s3_uri)
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
    staged = None
    if split:
        staged = s3split.stage(s3, places.input_uri, None if places.in_s3 else [
            (path, file_key((path, rel))) for path, rel in places.files], s3_uri, places.name,
            job, echo)
        count_in = len(staged.pieces)
    else:
        count_in = _stage_input(s3, places, job.instance_count, echo)
    sm = aws.client("sagemaker")
    try:
        with call("sagemaker", "CreateModel"):
            sm.create_model(**model_request(places.name, arn, role_arn))
    except BaseException:
        if staged is not None:
            s3split.cleanup(s3, staged, places.output_uri)
        raise
    try:
        # With --split the job reads the parts; their outputs are joined below.
        run_places = (places if staged is None
                      else dataclasses.replace(places, input_uri=staged.input_uri))
        try:
            desc, seconds, here = _run_cloud_job(
                aws, sm, package, job, run_places,
                count_in if staged is None else staged.objects, instance=instance,
                hourly_price=hourly_price, timeout_s=timeout_s, echo=echo,
                unit="files" if staged is None else "parts")
        except PlatformError as e:
            if staged is None:
                raise
            # Name the buyer's input, not a part deleted below.
            raise PlatformError(staged.explain(str(e))) from None
        if staged is not None:
            s3split.join_outputs(s3, staged, places.output_uri)
        out_keys = [k for k in list_keys(s3, places.output_uri) if k.endswith(".out")]
        outputs = [] if places.out_s3 else _download(s3, places.output_uri, out_keys,
                                                     Path(output))
    finally:
        if staged is not None:
            s3split.cleanup(s3, staged, places.output_uri)
        if not keep_model:
            with call("sagemaker", "DeleteModel"):
                sm.delete_model(ModelName=places.name)
    details = {"job": places.name, "instance_type": instance,
               "instance_count": str(job.instance_count), "input": places.input_uri,
               "output": places.output_uri, "files_in": str(count_in),
               "files_out": str(len(out_keys))}
    if hourly_price is not None:
        cost = software_cost(job.instance_count, billed_seconds(desc, seconds), hourly_price)
        details["software_cost_usd"] = f"{cost:.2f}"
    return TransformOutcome(outputs, seconds, f"SageMaker transform job {places.name}", details,
                            here.report if here is not None else None)


@dataclass(frozen=True)
class _CloudPlaces:
    """Where a cloud job reads and writes: its name, its S3 prefixes, the local input files."""

    name: str
    input_uri: str
    output_uri: str
    in_s3: bool
    out_s3: bool
    #: (path, path relative to the input) of a local input, uploaded before the job.
    files: list[tuple[Path, Path]]


def _cloud_places(data: Path | str, output: Path | str, s3_uri: str | None) -> _CloudPlaces:
    """Check the input, output and staging places and name the job (nothing is created)."""
    in_s3, out_s3 = str(data).startswith("s3://"), str(output).startswith("s3://")
    files: list[tuple[Path, Path]] = []
    if in_s3:
        split_prefix(str(data))
    else:
        if not Path(data).exists():
            raise UserError(f"--input {data} does not exist (a local path, or an s3:// prefix)")
        files = input_files([Path(data)])
        if not files:
            raise UserError(f"--input {data} has no files")
    if out_s3:
        split_prefix(str(output))
    if (not in_s3 or not out_s3) and not s3_uri:
        raise UserError("a local --input or --output goes through S3: give --s3-uri "
                        "s3://bucket/prefix for staging")
    name = f"smkit-buyer-{uuid.uuid4().hex[:12]}"
    staging = ""
    if s3_uri:
        bucket, prefix = split_prefix(s3_uri)
        staging = s3_url(bucket, "/".join(p for p in (prefix.strip("/"), name) if p))
    input_uri = str(data) if in_s3 else f"{staging}/input/"
    output_uri = str(output) if out_s3 else f"{staging}/output/"
    if output_uri.startswith(input_uri):
        raise UserError(f"--output {output_uri} is under --input {input_uri}: the next job over "
                        "that prefix would transform these .out files too; write the output "
                        "to another prefix")
    return _CloudPlaces(name, input_uri, output_uri, in_s3, out_s3, files)


def _stage_input(s3: Any, places: _CloudPlaces, instance_count: int, echo: Echo) -> int:
    """Count the input objects (uploading a local input first); returns the count."""
    if places.in_s3:
        keys = list_keys(s3, places.input_uri)
        if not keys:
            raise UserError(f"no objects under {places.input_uri}; check the --input prefix")
        count_in = len(keys)
    else:
        count_in = len(places.files)
    if instance_count > count_in:
        echo(f"note: {instance_count} instances for {count_in} input object(s): "
             f"{instance_count - count_in} will be idle (and billed); batch transform "
             "gives each object to one instance")
    if not places.in_s3:
        bucket, key0 = split_prefix(places.input_uri)
        for path, rel in places.files:
            with call("s3", "PutObject"):
                s3.upload_file(str(path), bucket, key0 + file_key((path, rel)))
        echo(f"uploaded {len(places.files)} input file(s) to {places.input_uri}")
    return count_in


def _run_cloud_job(aws: Aws, sm: Any, package: Package, job: TransformJob,
                   places: _CloudPlaces, count_in: int, *, instance: str,
                   hourly_price: float | None, timeout_s: float, echo: Echo,
                   unit: str = "files") -> tuple[dict[str, Any], float, ShardedRun | None]:
    """CreateTransformJob and the wait; returns its description, the seconds it took, and,
    on the emulators, the run that did SageMaker's side here (``unit``: what the job's
    objects are, "parts" with --split, as its run says).

    Raises PlatformError with the reason and the log streams unless the job completed.
    """
    request = job.request(places.name, places.name, places.input_uri, places.output_uri,
                          instance_type=instance)
    with call("sagemaker", "CreateTransformJob"):
        sm.create_transform_job(**request)
    echo(f"transform job {places.name}: {count_in} object(s) from {places.input_uri} on "
         f"{job.instance_count} x {instance}")
    started = time.monotonic()
    here = None
    if on_emulator(aws):
        here = run_on_emulator(aws, package, job, places.input_uri, places.output_uri,
                               echo=echo, unit=unit)
    desc = wait_for_job(aws, places.name, instance_count=job.instance_count,
                        instance_type=instance, hourly_price=hourly_price,
                        timeout_s=timeout_s, echo=echo, started=started)
    seconds = time.monotonic() - started
    if desc.get("TransformJobStatus") != "Completed":
        raise PlatformError(failure_message(desc, log_streams(aws, places.name)))
    return desc, seconds, here


def _download(s3: Any, output_uri: str, keys: list[str], folder: Path) -> list[Path]:
    """Download the ``.out`` objects under ``output_uri`` into ``folder``, keeping their keys."""
    out_bucket, out_prefix = split_prefix(output_uri)
    outputs: list[Path] = []
    for key in keys:
        target = folder / key[len(out_prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        with call("s3", "GetObject"):
            s3.download_file(out_bucket, key, str(target))
        outputs.append(target)
    return outputs
