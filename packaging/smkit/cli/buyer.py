"""``smkit buyer transform|invoke``: run a model package from its ARN, as a buyer would."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click

from smkit.aws import prices
from smkit.aws.clients import Aws, connect
from smkit.buyer import jobs as buyer
from smkit.buyer import plan as planning
from smkit.buyer.package import region_of
from smkit.cli.options import job_options, split_option
from smkit.core.errors import PlatformError, UserError
from smkit.project.transform_job import TransformJob
from smkit.transform.split import check_splittable

_arn_opt = click.option("--model-package-arn", "arn", required=True, metavar="ARN",
                        help="The model package (its region is taken from the ARN).")
_port_opt = click.option("--port", type=int, default=0, show_default=True,
                         help="Host port for SDK local mode (0: a free one).")


def _err(message: str) -> None:
    click.echo(message, err=True)


_infra_opt = click.option(
    "--infra-price", "infra_price", multiple=True, metavar="TYPE=USD|FILE",
    help="SageMaker's price per instance-hour over smkit's shipped table (repeatable): "
         "ml.m5.large=0.115, or a JSON file of {TYPE: USD}.")


def _aws(arn: str | None) -> Aws:
    """A session in the package's region (else AWS_REGION/AWS_DEFAULT_REGION, us-east-1)."""
    region = region_of(arn) if arn else (os.environ.get("AWS_REGION")
                                         or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    return connect(region)


@click.group("buyer")
def buyer_group() -> None:
    """Use a model package the way a Marketplace buyer does (cloud or local)."""


@buyer_group.command("transform")
@_arn_opt
@click.option("--input", "data", required=True, metavar="PATH|S3_URI",
              help="A local file or folder (uploaded under --s3-uri), or an s3:// prefix.")
@click.option("--output", required=True, metavar="PATH|S3_URI",
              help="A local folder (the .out files are downloaded) or an s3:// prefix.")
@click.option("--local/--cloud", default=True, show_default=True,
              help="This machine (SDK local mode, or smkit's runner for what it cannot do), "
                   "or a SageMaker transform job.")
@job_options()
@split_option
@_port_opt
@click.option("--role-arn", help="Cloud: the execution role ARN for CreateModel.")
@click.option("--s3-uri", help="Cloud: s3://bucket/prefix to stage a local input or output.")
@click.option("--hourly-price", type=float,
              help="Cloud: software price per instance-hour (USD) for the cost estimate.")
@click.option("--listing", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A listing.yaml: its pricing.batch gives the hourly price (cloud), and "
                   "its performance a plan printed beside the job's figures at the end.")
@_infra_opt
@click.option("--wait", "wait_s", type=float, default=buyer.CLOUD_TIMEOUT_S,
              show_default=True, help="Cloud: seconds to wait (the job keeps running after).")
def transform_cmd(arn: str, data: str, output: str, local: bool, job: TransformJob,
                  split: bool, port: int, role_arn: str | None, s3_uri: str | None,
                  hourly_price: float | None, listing: Path | None,
                  infra_price: tuple[str, ...], wait_s: float) -> None:
    """Batch-transform INPUT with the model package ARN: <key>.out per input object.

    --cloud runs CreateModel (network isolation) and CreateTransformJob over an S3 prefix on
    --instance-count instances, shows status, elapsed time and the software cost so far, and
    says where the output is. --local runs the same job description here: one container per
    instance, the files sharded by key as SageMaker does. Every option is checked against
    the model package before anything is created. Both talk to the emulators when `smkit
    emulators env` is in effect (there SageMaker's side of a cloud job runs on this
    machine), to AWS otherwise. --split cuts large inputs at record boundaries so every
    instance gets work (in S3 for an s3:// input) and joins the outputs back.
    """
    started = time.monotonic()
    job.validate()
    if split:
        check_splittable(job)
    planned = _job_plan(arn, data, job, listing, hourly_price, infra_price, split)
    if local:
        outcome = buyer.local_transform(arn, data, output, job=job, split=split,
                                        port=port or None, echo=_err)
        for path in outcome.outputs:
            click.echo(str(path))
        _err(f"{len(outcome.outputs)} output file(s) from {outcome.where} in "
             f"{time.monotonic() - started:.1f} s")
        _beside(planned, outcome, job.instance_count)
        return
    if not role_arn:
        raise click.UsageError("--cloud needs --role-arn (the execution role for CreateModel)")
    outcome = buyer.cloud_transform(arn, data, output, role_arn=role_arn, s3_uri=s3_uri,
                                    job=job, hourly_price=hourly_price, listing=listing,
                                    timeout_s=wait_s, split=split, echo=_err)
    for path in outcome.outputs:
        click.echo(str(path))
    d = outcome.details
    _err(f"transform job {d['job']} Completed in {time.monotonic() - started:.1f} s: "
         f"{d['files_in']} file(s) in from {d['input']}, {d['files_out']} .out file(s) at "
         f"{d['output']}" + (f", downloaded to {output}" if outcome.outputs else ""))
    if "software_cost_usd" in d:
        _err(f"software cost about ${d['software_cost_usd']} ({d['instance_count']} x "
             f"{d['instance_type']}), plus the SageMaker instance price")
    _beside(planned, outcome, job.instance_count)


def _job_plan(arn: str, data: str, job: TransformJob, listing: Path | None,
              hourly_price: float | None, infra_price: tuple[str, ...],
              split: bool) -> planning.Estimate | None:
    """The plan for this very job (its type and count), when the listing gives a rate for
    its instance type; None otherwise (said on stderr)."""
    if listing is None:
        return None
    try:
        rate = planning.listing_rate(listing)
    except UserError as e:
        _err(f"note: no plan to compare the job with: {str(e).splitlines()[0]}")
        return None
    itype = job.instance_type or rate.instance_type
    if itype != rate.instance_type:
        _err(f"note: no plan to compare the job with: the listing's rate was measured on "
             f"{rate.instance_type}, the job runs on {itype}")
        return None
    size = planning.plan_inputs(data, lambda: _aws(arn), job.split_type)
    software, _ = planning.software_prices(listing, hourly_price)
    infra = prices.with_buyer_prices(prices.shipped(), infra_price)
    return planning.estimate(size, rate, job.instance_count, software_hourly=software(itype),
                             infra_hourly=infra.price(itype), split=split)


def _beside(planned: planning.Estimate | None, outcome: buyer.TransformOutcome,
            instances: int) -> None:
    """The plan beside what the job did."""
    if planned is None:
        return
    report = outcome.report
    records = report.records if report is not None else None
    seconds = outcome.seconds
    span = report.span.seconds if report is not None else 0.0
    _err(planning.comparison(planned, seconds=seconds, records=records,
                             instances=instances, span_s=span or None))


@buyer_group.command("invoke")
@_arn_opt
@click.option("--body", "body_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Request body file.")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", help="Accept header.")
@_port_opt
def invoke_cmd(arn: str, body_file: Path, content_type: str, accept: str | None,
               port: int) -> None:
    """Deploy the model package as a local real-time endpoint (SDK local mode), send BODY,
    print the answer and tear everything down."""
    with buyer.local_endpoint(arn, port=port or None, echo=_err) as endpoint:
        answer = endpoint.invoke(body_file.read_bytes(), content_type, accept)
    _err(f"HTTP {answer.status} {answer.content_type}")
    click.echo(answer.body.decode("utf-8", errors="replace"))
    if not 200 <= answer.status < 300:
        raise PlatformError(f"the endpoint answered HTTP {answer.status}")


@buyer_group.command("plan")
@click.option("--input", "data", required=True, metavar="PATH|S3_URI",
              help="The job's input: a local file or folder, or an s3:// prefix.")
@click.option("--deadline", metavar="DURATION",
              help="Finish within this time (90m, 2h, 1h30m): the cheapest plan that does.")
@click.option("--budget", type=float, metavar="USD",
              help="Spend at most this (software + infrastructure): the fastest plan that "
                   "does.")
@click.option("--listing", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The product's listing.yaml: its performance section gives the rate, its "
                   "pricing.batch the software price.")
@click.option("--measure", is_flag=True,
              help="Measure the rate here instead: the image under each instance type's "
                   "CPUs and memory, on a sample of the input (needs --model-package-arn).")
@click.option("--model-package-arn", "arn", metavar="ARN",
              help="The model package (for --measure; its region for an s3:// input).")
@click.option("--instance-type", "instance_types", multiple=True, metavar="TYPE",
              help="Instance types to plan on (repeatable; default: the listing's measured "
                   "type, or with --measure the package's first batch type).")
@click.option("--hourly-price", type=float, metavar="USD",
              help="Software price per instance-hour (default: the listing's pricing.batch).")
@_infra_opt
@split_option
@job_options("content_type", "split_type", "batch_strategy", "max_payload_mb",
             "max_concurrent_transforms")
def plan_cmd(data: str, deadline: str | None, budget: float | None, listing: Path | None,
             measure: bool, arn: str | None, instance_types: tuple[str, ...],
             hourly_price: float | None, infra_price: tuple[str, ...], split: bool,
             job: TransformJob) -> None:
    """Plan a batch transform of INPUT for a --deadline or a --budget: instance type and
    count, expected duration, software cost (the listing's price, billed by the minute) and
    infrastructure cost (SageMaker's, from smkit's shipped table or --infra-price).

    The rate is records per second per instance: the listing's measured figure, or with
    --measure one taken here on a sample of the input.
    """
    goal = planning.describe_goal(deadline, budget)
    for itype in instance_types:
        planning.known_type(itype)
    if hourly_price is not None and hourly_price < 0:
        raise UserError(f"--hourly-price {hourly_price:g}: give a non-negative USD amount")
    infra = prices.with_buyer_prices(prices.shipped(), infra_price)
    if not measure and listing is None:
        raise UserError("no rate to plan with: give --listing (its performance section) or "
                        "--measure --model-package-arn ARN (measured here on a sample)")
    size = planning.plan_inputs(data, lambda: _aws(arn), job.split_type)
    if measure:
        found = _measured(arn, data, job, instance_types)
    else:
        assert listing is not None
        rate = planning.listing_rate(listing)
        if instance_types and rate.instance_type not in instance_types:
            raise UserError(f"the listing's rate was measured on {rate.instance_type}, not "
                            f"{', '.join(instance_types)}; plan on {rate.instance_type}, or "
                            "measure those types here with --measure")
        found = [rate]
    _, text = planning.plan_from(size, found, goal, listing=listing,
                                 hourly_price=hourly_price, infra=infra, split=split)
    click.echo(text)


def _measured(arn: str | None, data: str, job: TransformJob,
              instance_types: tuple[str, ...]) -> list[planning.Rate]:
    """Rates measured here, one per instance type, on a sample of the input."""
    if not arn:
        raise UserError("--measure runs the product's image: give --model-package-arn ARN")
    with buyer.materialize(arn, echo=_err) as local, \
            tempfile.TemporaryDirectory(prefix="smkit-plan-") as tmp:
        types = list(instance_types) or local.package.transform_types[:1]
        if not types:
            raise UserError("the model package lists no batch transform instance types; "
                            "give --instance-type")
        for itype in types:
            planning.known_type(itype)
        aws = _aws(arn) if data.startswith("s3://") else None
        sample = planning.sample_maker(data, Path(tmp), aws)
        return [planning.measure_rate(local.image, local.tarball, sample, itype, job=job,
                                      environment=local.package.environment, echo=_err)
                for itype in types]
