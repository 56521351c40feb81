"""``smkit buyer transform|invoke``: run a model package from its ARN, as a buyer would."""

from __future__ import annotations

import time
from pathlib import Path

import click

from . import buyer
from .errors import PlatformError

_arn_opt = click.option("--model-package-arn", "arn", required=True, metavar="ARN",
                        help="The model package (its region is taken from the ARN).")
_port_opt = click.option("--port", type=int, default=0, show_default=True,
                         help="Host port for SDK local mode (0: a free one).")


def _err(message: str) -> None:
    click.echo(message, err=True)


def register(group: click.Group) -> None:
    """Add ``buyer`` to the smkit command group."""
    group.add_command(buyer_group)


@click.group("buyer")
def buyer_group() -> None:
    """Use a model package the way a Marketplace buyer does (cloud or local)."""


@buyer_group.command("transform")
@_arn_opt
@click.option("--input", "data", required=True,
              type=click.Path(exists=True, path_type=Path), help="A file or a folder of files.")
@click.option("--output", "output_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for <name>.out.")
@click.option("--local/--cloud", default=True, show_default=True,
              help="SDK local mode on this machine, or a SageMaker transform job.")
@click.option("--content-type", default="text/csv", show_default=True)
@click.option("--accept", help="Accept (default: the container's choice).")
@click.option("--strategy", type=click.Choice(["MultiRecord", "SingleRecord"]),
              default="MultiRecord", show_default=True)
@_port_opt
@click.option("--role-arn", help="Cloud: the execution role ARN for CreateModel.")
@click.option("--s3-uri", help="Cloud: s3://bucket/prefix for the job's input and output.")
@click.option("--instance-type", help="Cloud: default the package's first transform type.")
def transform_cmd(arn: str, data: Path, output_dir: Path, local: bool, content_type: str,
                  accept: str | None, strategy: str, port: int, role_arn: str | None,
                  s3_uri: str | None, instance_type: str | None) -> None:
    """Batch-transform INPUT with the model package ARN; writes <name>.out per input file.

    --local resolves the package (DescribeModelPackage), downloads its model.tar.gz and image
    by digest, and runs SageMaker local mode. --cloud runs CreateModel (network isolation),
    CreateTransformJob and waits. Both talk to the emulators when `smkit emulators env` is
    in effect, to AWS otherwise.
    """
    started = time.monotonic()
    if local:
        outcome = buyer.local_transform(arn, data, output_dir, content_type=content_type,
                                        accept=accept, strategy=strategy, port=port or None,
                                        echo=_err)
    else:
        if not role_arn or not s3_uri:
            raise click.UsageError("--cloud needs --role-arn and --s3-uri")
        outcome = buyer.cloud_transform(arn, data, output_dir, role_arn=role_arn,
                                        s3_uri=s3_uri, instance_type=instance_type,
                                        content_type=content_type, accept=accept,
                                        strategy=strategy, echo=_err)
    for path in outcome.outputs:
        click.echo(str(path))
    _err(f"{len(outcome.outputs)} output file(s) from {outcome.where} in "
         f"{time.monotonic() - started:.1f} s")


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
