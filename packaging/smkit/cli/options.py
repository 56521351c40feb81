"""Click options that describe a batch transform job, declared once for every command.

``job_options(...)`` adds the options for the chosen ``TransformJob`` fields and hands the
command one ``job`` argument built from them; ``smkit transform``, ``smkit local transform``
and ``smkit buyer transform`` each choose the fields they can run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
import smkit_contract.content_types as ct
import smkit_contract.env as env_names

from smkit.core.errors import UserError
from smkit.project.transform_job import (
    ASSEMBLE,
    DISTRIBUTIONS,
    JOIN_SOURCES,
    MAX_INVOCATION_RETRIES,
    MAX_INVOCATION_TIMEOUT_S,
    SHARDED,
    SPLIT_TYPES,
    TransformJob,
)

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--env KEY=VALUE`` pairs as a dict; UserError names the malformed one."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--env {pair!r} must be KEY=VALUE")
        out[key] = value
    return out


#: ``--env`` (repeatable KEY=VALUE) into an ``environment`` argument, for endpoints and
#: transform jobs alike (``parse_env`` reads it).
env_option = click.option("--env", "environment", multiple=True, metavar="KEY=VALUE",
                          help="Container environment variable (repeatable).")

#: ``--cpus N``: hold each container smkit starts for a transform to N CPUs (``docker run
#: --cpus``), as an instance's vCPUs would; None leaves them unlimited.
cpus_option = click.option("--cpus", "cpus", type=click.FloatRange(min=0.01), default=None,
                           metavar="N",
                           help="Limit each transform container to N CPUs (docker --cpus).")

#: ``--split``: cut large inputs into parts at record boundaries so every instance gets work,
#: and join the outputs back (``smkit.transform.split``; in S3, ``smkit.buyer.s3split``).
split_option = click.option(
    "--split", "split", is_flag=True,
    help="Cut large input files into parts at record boundaries so every instance gets "
         "work; the outputs are joined back into one <name>.out per input.")

#: One option per TransformJob field, named by the field it sets.
_JOB_OPTIONS: dict[str, Decorator] = {
    "content_type": click.option("--content-type", "content_type", default=ct.CSV,
                                 show_default=True, help="TransformInput.ContentType."),
    "accept": click.option("--accept", "accept",
                           help="TransformOutput.Accept (default: the container's choice)."),
    "split_type": click.option("--split-type", "split_type", type=click.Choice(SPLIT_TYPES),
                               default="Line", show_default=True,
                               help="TransformInput.SplitType."),
    "batch_strategy": click.option(
        "--strategy", "batch_strategy", type=click.Choice(env_names.BATCH_STRATEGIES),
        help=f"BatchStrategy (default: /execution-parameters, then "
             f"{env_names.MULTI_RECORD})."),
    "max_payload_mb": click.option(
        "--max-payload", "max_payload_mb", type=click.IntRange(0, 100),
        help="MaxPayloadInMB (default: /execution-parameters, then 6; 0 streams)."),
    "max_concurrent_transforms": click.option(
        "--max-concurrent", "max_concurrent_transforms", type=click.IntRange(1, 1000),
        help="MaxConcurrentTransforms per instance (default: /execution-parameters, "
             "then 1)."),
    "assemble_with": click.option("--assemble-with", "assemble_with",
                                  type=click.Choice(ASSEMBLE), default="Line",
                                  show_default=True, help="TransformOutput.AssembleWith."),
    "input_filter": click.option("--input-filter", "input_filter",
                                 help="DataProcessing.InputFilter, e.g. '$[1:]' or "
                                      "'$.features'."),
    "join_source": click.option("--join-source", "join_source",
                                type=click.Choice(JOIN_SOURCES), default="None",
                                show_default=True, help="DataProcessing.JoinSource."),
    "output_filter": click.option("--output-filter", "output_filter",
                                  help="DataProcessing.OutputFilter, e.g. '$[0,-1]'."),
    "invocation_timeout_s": click.option(
        "--invocation-timeout", "invocation_timeout_s", type=int,
        help=f"ModelClientConfig.InvocationsTimeoutInSeconds (1 to "
             f"{MAX_INVOCATION_TIMEOUT_S})."),
    "invocation_retries": click.option(
        "--invocation-retries", "invocation_retries", type=int,
        help=f"ModelClientConfig.InvocationsMaxRetries (0 to {MAX_INVOCATION_RETRIES})."),
    "environment": env_option,
    "instance_type": click.option("--instance-type", "instance_type",
                                  help="Default: the package's first batch transform type."),
    "instance_count": click.option("--instance-count", "instance_count", type=int, default=1,
                                   show_default=True,
                                   help="Instances; input objects are sharded across them by "
                                        "key."),
    "distribution": click.option(
        "--distribution", "distribution", type=click.Choice(DISTRIBUTIONS), default=SHARDED,
        show_default=True,
        help="How objects reach instances; batch transform always shards by key."),
}
#: What a job run on this machine can set (the instances are each command's own).
RECORD_FIELDS = ("content_type", "accept", "split_type", "batch_strategy", "max_payload_mb",
                 "max_concurrent_transforms", "assemble_with", "input_filter", "join_source",
                 "output_filter", "environment")


def job_options(*fields: str) -> Decorator:
    """Add the options for ``fields`` (TransformJob field names, in --help order; all of
    them when none are given) and pass the command ``job=TransformJob(...)`` instead."""
    chosen = fields or tuple(_JOB_OPTIONS)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in chosen}
            if "environment" in values:
                values["environment"] = parse_env(values["environment"])
            return fn(*args, job=TransformJob(**values), **kwargs)

        command: Callable[..., Any] = wrapper
        for name in reversed(chosen):
            command = _JOB_OPTIONS[name](command)
        return command

    return decorate
