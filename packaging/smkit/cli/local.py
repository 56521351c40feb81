"""``smkit local endpoint|invoke|transform`` (the SDK's local mode) and ``smkit transform``."""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click
import smkit_contract.content_types as ct
import smkit_contract.names as names

from smkit.cli.options import (
    RECORD_FIELDS,
    cpus_option,
    env_option,
    job_options,
    parse_env,
    split_option,
)
from smkit.core.errors import PlatformError, SmkitError, UserError
from smkit.image import artifact
from smkit.image import build as images
from smkit.local.sdk import local_endpoint, sdk_transform
from smkit.project import spec_yaml
from smkit.project.labeled import labeled_input_in
from smkit.project.transform_job import TransformJob
from smkit.transform.image import cpu_limit, run_transform_with_image
from smkit.transform.runner import run_transform
from smkit.transform.shard import run_sharded
from smkit.transform.split import check_splittable

DEFAULT_IMAGE = os.environ.get("SMKIT_IMAGE", "smkit-inference:latest")

_model_arg = click.argument("model", type=click.Path(exists=True, path_type=Path))
SPEC_FILE = Path("smkit.yaml")


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


@contextmanager
def context_after() -> Iterator[list[str]]:
    """Hold context lines (which image runs) until the command ends: they follow its error
    (so the error stays the first line), else they are printed once it succeeded."""
    held: list[str] = []
    try:
        yield held
    except SmkitError as e:
        if held:
            e.args = ("\n".join([str(e), *held]),)
        raise
    for line in held:
        click.echo(line, err=True)


def resolve_image(image: str | None, spec_file: Path | None,
                  note: Callable[[str], None] = _echo_err) -> str:
    """The image to run: ``--image``; else the product image of ``--spec`` (or of
    ./smkit.yaml when it declares a python section); else the default image.

    A product image is built when its content is new; so is a missing default image.
    Which image was chosen, and why, goes to ``note`` (stderr by default).
    """
    if image is not None:
        return image
    if spec_file is None and SPEC_FILE.is_file():
        try:
            found = spec_yaml.load(SPEC_FILE)
        except UserError as e:
            note(f"note: ./{SPEC_FILE} not used ({e}); running {DEFAULT_IMAGE}")
        else:
            if found.python.declared:
                spec_file = SPEC_FILE
    if spec_file is not None:
        tag = images.for_spec(spec_yaml.load(spec_file), note).image.local
        note(f"image: {tag} (the product image of {spec_file})")
        return tag
    if DEFAULT_IMAGE in images.default_tags():
        images.for_spec_default(DEFAULT_IMAGE, note)
    return DEFAULT_IMAGE


def _image_opt(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--image`` and ``--spec``, resolved into one ``image`` argument."""

    @functools.wraps(fn)
    def wrapper(*args: Any, image: str | None, spec_file: Path | None, **kwargs: Any) -> Any:
        if kwargs.get("url") is not None:  # a running server: no image to find or build
            return fn(*args, image=image or DEFAULT_IMAGE, **kwargs)
        with context_after() as held:
            return fn(*args, image=resolve_image(image, spec_file, held.append), **kwargs)

    wrapper = click.option(
        "--spec", "spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Run the product image of this spec's python section (default: ./smkit.yaml "
             "when it has one).")(wrapper)
    return click.option("--image", default=None,
                        help=f"Inference image to run (default: the spec's product image, "
                             f"else {DEFAULT_IMAGE}).")(wrapper)
_port_opt = click.option("--port", default=8080, show_default=True,
                         help="Host port of the SDK's local endpoint.")


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Let SIGTERM (``kill``, a CI timeout) unwind like Ctrl-C, so containers are removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def check_model(model: Path) -> None:
    """Refuse a model directory whose model file no image can load, before any container
    starts (the pickle scan's words; a model.tar.gz is left to the server)."""
    if model.is_dir():
        artifact.check_model(model)


def guess_content_type(path: Path) -> str:
    """The MIME type for a file by its extension; UserError when it cannot tell."""
    media = ct.for_suffix(path.suffix)
    if media is None:
        raise UserError(f"cannot tell the content type of {path.name}; pass --content-type")
    return media


def _sample(model: Path) -> tuple[bytes, str] | None:
    """The seller's sample_input.* from a model directory, if it has one."""
    if model.is_dir():
        for name, media in names.SAMPLE_FILES.items():
            if (model / name).is_file():
                return (model / name).read_bytes(), media
    return None


def _show(status: int, content_type: str, body: bytes) -> None:
    click.echo(f"HTTP {status} {content_type}".rstrip(), err=True)
    text = body.decode("utf-8", errors="replace")
    click.echo(text if len(text) <= 4000 else text[:4000] + f"... ({len(body)} bytes)")


@click.group()
def local() -> None:
    """Run the model under the SageMaker SDK's local mode (offline, Docker)."""


@local.command("endpoint")
@_model_arg
@_image_opt
@_port_opt
@env_option
@click.option("--sample", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Request body to send (default: the model's sample_input.*).")
@click.option("--content-type", help="Content type of --sample (default: by extension).")
@click.option("--accept", help="Accept header.")
def local_endpoint_cmd(model: Path, image: str, port: int, environment: tuple[str, ...],
                       sample: Path | None, content_type: str | None,
                       accept: str | None) -> None:
    """Deploy MODEL (a directory or model.tar.gz) as an SDK local endpoint, send a sample
    request, print the answer, and tear everything down."""
    check_model(model)
    if sample is not None:
        body, media = sample.read_bytes(), content_type or guess_content_type(sample)
    else:
        found = _sample(model)
        if found is None:
            raise UserError(f"{model} has no sample_input.csv (or .json/.jsonl/.npy); "
                            "pass --sample FILE")
        body, media = found
    with _terminate_as_interrupt(), local_endpoint(image, model, env=parse_env(environment),
                                                   port=port) as ep:
        click.echo(f"endpoint {ep.name} is InService at {ep.run.url}", err=True)
        answer = ep.invoke(body, media, accept)
    _show(answer.status, answer.content_type, answer.body)
    click.echo("endpoint, containers and network removed", err=True)
    if not 200 <= answer.status < 300:
        raise PlatformError(f"the endpoint answered HTTP {answer.status}")


@local.command("invoke")
@_model_arg
@click.argument("body_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_image_opt
@_port_opt
@env_option
@click.option("--content-type", help="Content type (default: by the file's extension).")
@click.option("--accept", help="Accept header.")
@click.option("--custom-attributes", help="X-Amzn-SageMaker-Custom-Attributes.")
def local_invoke_cmd(model: Path, body_file: Path, image: str, port: int,
                     environment: tuple[str, ...], content_type: str | None, accept: str | None,
                     custom_attributes: str | None) -> None:
    """Deploy MODEL as an SDK local endpoint, send BODY_FILE, print the answer, tear down."""
    media = content_type or guess_content_type(body_file)
    check_model(model)
    with _terminate_as_interrupt(), local_endpoint(image, model, env=parse_env(environment),
                                                   port=port) as ep:
        answer = ep.invoke(body_file.read_bytes(), media, accept, custom_attributes)
    _show(answer.status, answer.content_type, answer.body)
    if not 200 <= answer.status < 300:
        raise PlatformError(f"the endpoint answered HTTP {answer.status}")


@local.command("transform")
@_model_arg
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.argument("output_dir", type=click.Path(file_okay=False, path_type=Path))
@_image_opt
@_port_opt
@job_options("content_type", "accept", "split_type", "batch_strategy", "assemble_with",
             "max_payload_mb", "environment")
@click.option("--deadline", default=600.0, show_default=True, help="Seconds to allow.")
def local_transform_cmd(model: Path, data: Path, output_dir: Path, image: str, port: int,
                        job: TransformJob, deadline: float) -> None:
    """Batch-transform DATA (a file or folder) through the SDK's local mode into OUTPUT_DIR.

    The SDK sends one request at a time and ignores filters; `smkit transform` does both.
    """
    check_model(model)
    with _terminate_as_interrupt():
        result = sdk_transform(image, model, data, output_dir, content_type=job.content_type,
                               split_type=job.split_type, strategy=job.batch_strategy,
                               assemble_with=job.assemble_with, accept=job.accept,
                               max_payload_mb=job.max_payload_mb, env=job.environment,
                               port=port, deadline_s=deadline)
    for out in result.outputs:
        click.echo(str(out))
    click.echo(f"{len(result.outputs)} files in {result.seconds:.1f} s; containers and "
               "network removed", err=True)


@click.command("transform")
@click.argument("inputs", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--output", "-o", "output_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for .out files.")
@click.option("--model", type=click.Path(exists=True, path_type=Path),
              help="Model directory or model.tar.gz: smkit starts the image with it.")
@_image_opt
@click.option("--url", help="A running server to use instead of starting the image.")
@job_options(*RECORD_FIELDS)
@click.option("--keep-going", is_flag=True,
              help="Write a placeholder for failed records instead of failing the file.")
@click.option("--placeholder", help="Placeholder record for --keep-going.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: on runs longer than a few seconds).")
@click.option("--instances", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Containers to run, the input files sharded across them by key as "
                   "SageMaker's InstanceCount does (needs --model).")
@cpus_option
@split_option
def transform(inputs: tuple[Path, ...], output_dir: Path, model: Path | None, image: str,
              url: str | None, job: TransformJob, keep_going: bool, placeholder: str | None,
              progress: bool | None, instances: int, cpus: float | None, split: bool) -> None:
    """Batch-transform INPUTS (files or folders) as SageMaker would, without the SDK:
    `<name>.out` per input file in --output."""
    if (model is None) == (url is None):
        raise UserError("give either --model (smkit starts the image) or --url (a running "
                        "server)")
    if instances > 1 and url is not None:
        raise UserError("--instances starts one container per instance: give --model, "
                        "not --url")
    if cpus is not None and url is not None:
        raise UserError("--cpus limits the containers smkit starts: give --model, not --url")
    if split:
        check_splittable(job)
        if instances == 1:
            click.echo("note: --split shares files among instances; with --instances 1 "
                       "nothing is cut", err=True)
    if model is not None:
        check_model(model)
    job = job.replace(instance_count=instances)
    cfg = job.to_config(list(inputs), output_dir, keep_going=keep_going,
                        placeholder=placeholder, progress=progress)
    with _terminate_as_interrupt():
        if instances > 1:
            assert model is not None
            sharded = run_sharded(job, list(inputs), output_dir, image=image, model=model,
                                  keep_going=keep_going, placeholder=placeholder,
                                  progress=progress, limits=cpu_limit(cpus), split=split,
                                  echo=lambda m: click.echo(m, err=True))
            report = sharded.report
        elif model is not None:
            report = run_transform_with_image(cfg, image, model, limits=cpu_limit(cpus))
        else:
            assert url is not None
            report = run_transform(cfg, url)
    summary = sharded.summary() if instances > 1 else report.summary()
    failed = [r for r in report.files.values() if not r.ok]
    if failed:
        first = next((x for r in failed for x in r.failures), None)
        cause = first.describe() if first is not None else f"{failed[0].input} failed"
        hint = labeled_input_in(cause, "the transform's input")
        cause += f". {hint}" if hint else ""
        bad = sum(len(r.failures) for r in failed)
        # The cause first; the run's summary after it.
        raise PlatformError(
            f"{cause}\n{len(failed)} of {len(report.files)} files failed ({bad} failed "
            "request(s)); no .out was written for them (--keep-going writes a placeholder "
            f"for each failed record instead)\n{summary}")
    click.echo(summary, err=True)
    for result in report.files.values():
        if result.output is not None:
            click.echo(str(result.output))
