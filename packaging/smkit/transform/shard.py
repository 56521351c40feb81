"""A multi-instance batch transform on this machine: one container per instance, the input
files sharded across them by key, as SageMaker shards S3 objects (``ShardedByS3Key``).

How SageMaker assigns objects: its developer guide says batch transform "partitions the
Amazon S3 objects in the input by key and maps Amazon S3 objects to instances", that "if you
have one input file but initialize multiple compute instances, only one instance processes
the input file and the rest of the instances are idle" (doc_source/batch-transform.md in
awsdocs/amazon-sagemaker-developer-guide), and, for ShardedByS3Key, that with n instances
"each instance gets approximately 1/n of the number of S3 objects" (S3DataSource,
SageMaker API reference). Which object goes to which instance is not published, and the
output never depends on it (one ``<key>.out`` per object, whichever instance wrote it). smkit
lists the keys in S3's order (UTF-8 binary, as ListObjectsV2 returns them) and deals them
round-robin: key i goes to instance i mod n. That meets every documented property: each
instance gets a subset, the subsets are disjoint and cover every key, their sizes differ by
at most one, and instances beyond the number of objects are idle (and, in the cloud, billed).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from smkit.image import docker
from smkit.image.artifact import model_directory
from smkit.project.transform_job import TransformConfig, TransformJob
from smkit.transform import rates, split
from smkit.transform.config import resolve
from smkit.transform.runner import TransformReport, run_transform

T = TypeVar("T")
Echo = Callable[[str], None]


def _quiet(_: str) -> None:
    """Echo that prints nothing."""


def s3_order(key: str) -> bytes:
    """The sort key S3 lists object keys by (UTF-8 binary order)."""
    return key.encode("utf-8")


def shard(keys: Sequence[str], instance_count: int) -> list[list[str]]:
    """The keys each of ``instance_count`` instances gets (module docstring: the rule)."""
    if instance_count < 1:
        raise ValueError("instance_count must be at least 1")
    ordered = sorted(keys, key=s3_order)
    return [ordered[i::instance_count] for i in range(instance_count)]


def shard_items(items: Sequence[T], key: Callable[[T], str],
                instance_count: int) -> list[list[T]]:
    """``shard`` for items named by ``key(item)``."""
    by_key = {key(item): item for item in items}
    if len(by_key) != len(items):
        raise ValueError("two inputs have the same key")
    return [[by_key[k] for k in part] for part in shard(list(by_key), instance_count)]


def file_key(pair: tuple[Path, Path]) -> str:
    """The object key a local input stands for: its path under the input folder (the output
    name without ``.out``), as under an S3 prefix."""
    rel = pair[1]
    return rel.with_name(rel.name.removesuffix(".out")).as_posix()


@dataclass
class InstanceRun:
    """One instance of a sharded run."""

    index: int
    #: The (input, output relative path) pairs it was given.
    files: list[tuple[Path, Path]]
    #: Its report; None when it had no files (idle, as on SageMaker).
    report: TransformReport | None = None


@dataclass
class ShardedRun:
    """A sharded run: the merged report and what each instance did."""

    report: TransformReport
    instances: list[InstanceRun] = field(default_factory=list)

    def summary(self) -> str:
        """The merged summary, then one line per instance."""
        lines = [self.report.summary()]
        if len(self.instances) > 1:
            for inst in self.instances:
                if inst.report is None:
                    lines.append(f"  instance {inst.index + 1}: no files (idle)")
                    continue
                lines.append(f"  instance {inst.index + 1}: {_count(len(inst.files))}, "
                             + rates.rate_line(inst.report.records, inst.report.span.seconds))
        return "\n".join(lines)


def _count(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def run_sharded(job: TransformJob, inputs: Sequence[Path], output_dir: Path, *, image: str,
                model: Path, keep_going: bool = False, placeholder: str | None = None,
                progress: bool | None = None, environment: dict[str, str] | None = None,
                startup_timeout: float = 240, limits: tuple[str, ...] = (),
                split: bool = False, files: list[tuple[Path, Path]] | None = None,
                unit: str = "files", echo: Echo = _quiet) -> ShardedRun:
    """Run ``job`` over ``inputs`` with ``job.instance_count`` containers of ``image``.

    Each container gets its shard of the input files (by key, see the module docstring) and
    writes ``<key>.out`` into ``output_dir``, so the output is the same as one instance's.
    An instance with no files starts no container. Containers are removed afterwards.
    ``limits`` are ``docker run`` options given to every container (e.g. ``--cpus 1``).
    With ``split``, large files are first cut into parts at record boundaries so that every
    instance gets work, and the parts' outputs joined back (``smkit.transform.split``).
    ``files`` (input, output relative path) replaces the files ``inputs`` list; ``unit`` is
    what the messages call them.
    """
    job.validate()
    count = job.instance_count
    whole = job.to_config(list(inputs), output_dir, files=files, keep_going=keep_going,
                          placeholder=placeholder, progress=progress, environment=environment)
    whole.validate()
    if split:
        return _run_split(job, whole.input_files(), output_dir, echo=echo, image=image,
                          model=model, keep_going=keep_going, placeholder=placeholder,
                          progress=progress, environment=environment,
                          startup_timeout=startup_timeout, limits=limits)
    files = whole.input_files()
    parts = shard_items(files, file_key, count)
    runs = [InstanceRun(i, part) for i, part in enumerate(parts)]
    busy = [r for r in runs if r.files]
    echo(f"{len(files)} {unit} over {count} instance(s): "
         + ", ".join(str(len(r.files)) for r in runs))
    configs = {r.index: job.to_config(
        [], output_dir, files=r.files, keep_going=keep_going, placeholder=placeholder,
        progress=progress if len(busy) <= 1 else False, environment=environment)
        for r in busy}
    started = time.monotonic()
    with model_directory(model) as model_dir, ExitStack() as stack:
        servers = {}
        for r in busy:  # start them all, then wait: start-ups overlap
            servers[r.index] = (stack.enter_context(docker.serve(
                image, model_dir, env=configs[r.index].container_environment, wait=False,
                extra_args=limits)),
                time.monotonic())
        for server, at in servers.values():
            docker.wait_healthy(server, at, startup_timeout)

        def one(r: InstanceRun) -> TransformReport:
            url = servers[r.index][0].fastest_url()
            assert url is not None
            report = run_transform(configs[r.index], url)
            if len(busy) > 1:
                echo(f"instance {r.index + 1}/{count}: {_count(len(r.files))}, "
                     + rates.rate_line(report.records, report.span.seconds))
            return report

        if len(busy) <= 1:
            reports = [one(r) for r in busy]
        else:
            with ThreadPoolExecutor(len(busy), thread_name_prefix="smkit-instance") as pool:
                reports = list(pool.map(one, busy))
    for r, report in zip(busy, reports, strict=True):
        r.report = report
    merged = _merge([r.report for r in busy if r.report is not None], whole, files,
                    time.monotonic() - started)
    merged.startup_s = [s.ready_after for s, _ in servers.values() if s.ready_after is not None]
    return ShardedRun(merged, runs)


def _run_split(job: TransformJob, files: list[tuple[Path, Path]], output_dir: Path, *,
               echo: Echo, **options: Any) -> ShardedRun:
    """``run_sharded`` with ``split``: cut the files into parts in a temporary folder, run
    the parts, join their outputs into ``output_dir``; the parts are removed, also on
    errors, and the inputs are only read."""
    with tempfile.TemporaryDirectory(prefix="smkit-split-") as tmp:
        pieces = split.split_local(files, job, Path(tmp) / "in")
        note = split.describe_split(pieces)
        if note:
            echo(note)
        parts_out = Path(tmp) / "out"
        run = run_sharded(job, [], parts_out, files=[p for f in pieces for p in f.parts],
                          unit="parts" if any(f.cut for f in pieces) else "files",
                          echo=echo, **options)
        report = split.join_local(run.report, pieces, parts_out, output_dir)
    return ShardedRun(report, run.instances)


def _merge(reports: list[TransformReport], whole: TransformConfig,
           files: list[tuple[Path, Path]], seconds: float) -> TransformReport:
    """One report over every instance's files, in the order one instance would list them."""
    found = {}
    for report in reports:
        found.update(report.files)
    ordered = {path: found[path] for path, _ in files if path in found}
    if reports:
        params, answered = reports[0].parameters, reports[0].execution_parameters
    else:
        params, answered = resolve(whole, None), None
    return TransformReport(ordered, params, seconds, answered,
                           rates.union(r.span for r in reports), max(1, len(reports)))


def measure_rows_per_s(image: str, model: Path, inputs: Sequence[Path], instances: int,
                       job: TransformJob | None = None) -> tuple[float, int, float]:
    """Transform ``inputs`` with ``instances`` containers; (records/s, records, seconds).

    For ``make bench``: the time includes starting the containers, as a job's would. Output
    goes to a temporary folder that is removed.
    """
    job = (job or TransformJob()).replace(instance_count=instances)
    with tempfile.TemporaryDirectory(prefix="smkit-shard-bench-") as tmp:
        started = time.monotonic()
        run = run_sharded(job, inputs, Path(tmp), image=image, model=model, progress=False)
        seconds = time.monotonic() - started
    if not run.report.ok:
        raise RuntimeError(run.summary())
    records = run.report.records
    return (records / seconds if seconds > 0 else 0.0), records, seconds


def cpu_count() -> int:
    """CPUs this process may use (for the bench's note on what two instances can gain)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
