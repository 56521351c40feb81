"""Start the inference image as batch transform does, then run the transform against it."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from smkit_contract.env import MULTI_RECORD
from smkit_contract.limits import MB

from smkit.aws.instances import RunAs, batch_payload_mb
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


#: Records a batch rate is first measured on (``buyer plan --measure`` takes at most this
#: many of the input, ``listing init`` repeats its sample records to this many).
RATE_RECORDS = 20_000
#: Mini-batches per concurrent request slot a batch rate's sample should fill: one
#: mini-batch leaves the container's other workers idle, as no large job does.
BATCHES_PER_SLOT = 2
#: The longest a second, larger measurement may be expected to take; past it the first
#: measurement stands, and says it ran one mini-batch at a time.
MEASURE_BUDGET_S = 20.0

#: ``sample(records)``: a file of about that many of the input's records.
SampleMaker = Callable[[int], Path]


def repeat_records(records: Sequence[bytes], n: int) -> bytes:
    """``n`` records, ``records`` over and over, one per line (a rate's sample body)."""
    return b"\n".join(records[i % len(records)] for i in range(n)) + b"\n"


@dataclass(frozen=True)
class BatchRate:
    """What one instance's batch transform of a sample measured."""

    records: int
    #: Records per second per instance, first request to last answer (``rates``).
    per_s: float
    #: Container start-up, ``docker run`` to the first healthy ``/ping`` (None if unknown).
    startup_s: float | None
    #: True when the sample fed fewer mini-batches than the job's concurrent slots, so the
    #: figure understates a large job (a larger sample would have taken too long).
    one_batch_at_a_time: bool = False

    @property
    def caveat(self) -> str:
        """What the figure adds to where it came from: "" unless measured one mini-batch at
        a time."""
        if not self.one_batch_at_a_time:
            return ""
        return ("; one mini-batch at a time, as a larger sample would have taken over "
                f"{MEASURE_BUDGET_S:.0f} s: a large job is likely faster")


def _transform(image: str, model: Path, sample: Path, as_type: RunAs, job: TransformJob,
               environment: Mapping[str, str]) -> TransformReport:
    with tempfile.TemporaryDirectory(prefix="smkit-rate-") as tmp:
        cfg = job.to_config([sample], Path(tmp) / "out", progress=False,
                            environment=dict(environment))
        report = run_transform_with_image(cfg, image, model, limits=as_type.docker_args())
    if not report.ok:
        first = next((x.describe() for f in report.files.values() for x in f.failures),
                     "the sample failed")
        raise UserError(f"the sample failed to transform, so there is no batch rate: {first}")
    return report


def _rate(report: TransformReport, one_batch: bool = False) -> BatchRate:
    return BatchRate(report.records, rates.per_instance(report.records, report.span.seconds),
                     report.startup_s[0] if report.startup_s else None, one_batch)


def measure_batch_rate(image: str, model: Path, sample: SampleMaker, as_type: RunAs, *,
                       job: TransformJob, environment: Mapping[str, str]) -> BatchRate:
    """Transform a sample as ``job`` does, on ``image`` held to ``as_type``'s CPUs and
    memory: the one way a batch rate is measured (``buyer plan --measure``, ``listing
    init``). UserError with the first failure when the sample does not transform.

    ``RATE_RECORDS`` records first. When they fill fewer than ``BATCHES_PER_SLOT``
    mini-batches per concurrent slot (small records: 20,000 of them are often one request),
    a sample that does is measured again, if the first rate says it takes at most
    ``MEASURE_BUDGET_S``.
    """
    path = sample(RATE_RECORDS)
    first = _transform(image, model, path, as_type, job, environment)
    p = first.parameters
    if p.batch_strategy != MULTI_RECORD or first.records == 0 or first.span.seconds <= 0:
        return _rate(first)
    wanted = BATCHES_PER_SLOT * p.max_concurrent_transforms * (
        batch_payload_mb(p.max_payload_mb) * MB)
    size = path.stat().st_size
    if size >= wanted:
        return _rate(first)
    scale = wanted / size
    if first.span.seconds * scale > MEASURE_BUDGET_S:
        return _rate(first, one_batch=True)
    second = _transform(image, model, sample(math.ceil(first.records * scale)), as_type, job,
                        environment)
    return _rate(second)
