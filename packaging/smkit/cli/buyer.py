"""``smkit buyer transform|invoke``: run a model package from its ARN, as a buyer would."""

from __future__ import annotations

import time
from pathlib import Path

import click

from smkit.buyer import jobs as buyer
from smkit.cli.options import job_options
from smkit.core.errors import PlatformError
from smkit.project.transform_job import TransformJob

_arn_opt = click.option("--model-package-arn", "arn", required=True, metavar="ARN",
                        help="The model package (its region is taken from the ARN).")
_port_opt = click.option("--port", type=int, default=0, show_default=True,
                         help="Host port for SDK local mode (0: a free one).")


def _err(message: str) -> None:
    click.echo(message, err=True)


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
@_port_opt
@click.option("--role-arn", help="Cloud: the execution role ARN for CreateModel.")
@click.option("--s3-uri", help="Cloud: s3://bucket/prefix to stage a local input or output.")
@click.option("--hourly-price", type=float,
              help="Cloud: software price per instance-hour (USD) for the cost estimate.")
@click.option("--listing", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Cloud: a listing.yaml whose pricing.batch gives the hourly price.")
@click.option("--wait", "wait_s", type=float, default=buyer.CLOUD_TIMEOUT_S,
              show_default=True, help="Cloud: seconds to wait (the job keeps running after).")
def transform_cmd(arn: str, data: str, output: str, local: bool, job: TransformJob,
                  port: int, role_arn: str | None, s3_uri: str | None,
                  hourly_price: float | None, listing: Path | None, wait_s: float) -> None:
    """Batch-transform INPUT with the model package ARN: <key>.out per input object.

    --cloud runs CreateModel (network isolation) and CreateTransformJob over an S3 prefix on
    --instance-count instances, shows status, elapsed time and the software cost so far, and
    says where the output is. --local runs the same job description here: one container per
    instance, the files sharded by key as SageMaker does. Every option is checked against
    the model package before anything is created. Both talk to the emulators when `smkit
    emulators env` is in effect (there SageMaker's side of a cloud job runs on this
    machine), to AWS otherwise.
    """
    started = time.monotonic()
    job.validate()
    if local:
        outcome = buyer.local_transform(arn, data, output, job=job,
                                        port=port or None, echo=_err)
        for path in outcome.outputs:
            click.echo(str(path))
        _err(f"{len(outcome.outputs)} output file(s) from {outcome.where} in "
             f"{time.monotonic() - started:.1f} s")
        return
    if not role_arn:
        raise click.UsageError("--cloud needs --role-arn (the execution role for CreateModel)")
    outcome = buyer.cloud_transform(arn, data, output, role_arn=role_arn, s3_uri=s3_uri,
                                    job=job, hourly_price=hourly_price, listing=listing,
                                    timeout_s=wait_s, echo=_err)
    for path in outcome.outputs:
        click.echo(str(path))
    d = outcome.details
    _err(f"transform job {d['job']} Completed in {time.monotonic() - started:.1f} s: "
         f"{d['files_in']} file(s) in from {d['input']}, {d['files_out']} .out file(s) at "
         f"{d['output']}" + (f", downloaded to {output}" if outcome.outputs else ""))
    if "software_cost_usd" in d:
        _err(f"software cost about ${d['software_cost_usd']} ({d['instance_count']} x "
             f"{d['instance_type']}), plus the SageMaker instance price")


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
