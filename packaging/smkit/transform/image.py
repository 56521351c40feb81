"""Start the inference image as batch transform does, then run the transform against it."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smkit.aws.instances import RunAs
from smkit.core.errors import UserError
from smkit.image import docker
from smkit.image.artifact import model_directory
from smkit.project.transform_job import TransformConfig, TransformJob
from smkit.transform import rates
from smkit.transform.runner import TransformReport, run_transform


def run_transform_with_image(cfg: TransformConfig, image: str, model: Path,
                             *, startup_timeout: float = 240,
                             limits: tuple[str, ...] = ()) -> TransformReport:
    """Start ``image`` with ``model`` (a model directory or a model.tar.gz) and the batch
    environment (``cfg.container_environment``), run the transform, and remove the
    container, also on errors. ``limits`` are ``docker run`` options that hold the
    container to an instance's CPUs and memory (``cpu_limit``, ``RunAs.docker_args``)."""
    cfg.validate()
    with model_directory(model) as model_dir, docker.serve(
        image, model_dir, env=cfg.container_environment, startup_timeout=startup_timeout,
        extra_args=limits,
    ) as server:
        url = server.fastest_url()
        assert url is not None
        report = run_transform(cfg, url)
    if server.ready_after is not None:
        report.startup_s = [server.ready_after]
    return report


def cpu_limit(cpus: float | None) -> tuple[str, ...]:
    """``docker run`` options for ``--cpus`` (none when ``cpus`` is None)."""
    return () if cpus is None else ("--cpus", f"{cpus:g}")


#: Records a batch rate is measured on (``buyer plan --measure`` takes at most this many of
#: the input, ``listing init`` repeats its sample records to this many).
RATE_RECORDS = 20_000


@dataclass(frozen=True)
class BatchRate:
    """What one instance's batch transform of a sample measured."""

    records: int
    #: Records per second per instance, first request to last answer (``rates``).
    per_s: float
    #: Container start-up, ``docker run`` to the first healthy ``/ping`` (None if unknown).
    startup_s: float | None


def measure_batch_rate(image: str, model: Path, sample: Path, as_type: RunAs, *,
                       job: TransformJob, environment: Mapping[str, str]) -> BatchRate:
    """Transform ``sample`` as ``job`` does, on ``image`` held to ``as_type``'s CPUs and
    memory: the one way a batch rate is measured (``buyer plan --measure``, ``listing
    init``). UserError with the first failure when the sample does not transform."""
    with tempfile.TemporaryDirectory(prefix="smkit-rate-") as tmp:
        cfg = job.to_config([sample], Path(tmp) / "out", progress=False,
                            environment=dict(environment))
        report = run_transform_with_image(cfg, image, model, limits=as_type.docker_args())
    if not report.ok:
        first = next((x.describe() for f in report.files.values() for x in f.failures),
                     "the sample failed")
        raise UserError(f"the sample failed to transform, so there is no batch rate: {first}")
    return BatchRate(report.records, rates.per_instance(report.records, report.span.seconds),
                     report.startup_s[0] if report.startup_s else None)
