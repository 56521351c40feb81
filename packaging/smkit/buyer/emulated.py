"""SageMaker's side of a cloud transform job when the endpoint is the emulators' moto.

moto records a transform job and marks it Completed without running anything, so smkit runs
the package's image here, one container per instance with the objects sharded by key, and puts
the ``.out`` files where SageMaker would.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from smkit.aws.clients import Aws, call
from smkit.buyer.image import quiet, resolve_image
from smkit.buyer.package import Package
from smkit.buyer.staging import fetch_artifact, folder, list_keys, output_base, s3_url, split_prefix
from smkit.core.errors import PlatformError
from smkit.emulators.manager import is_moto
from smkit.project.transform_job import TransformJob
from smkit.transform.shard import Echo, ShardedRun, run_sharded


def on_emulator(aws: Aws) -> bool:
    """True when the SageMaker endpoint in use is moto (``smkit emulators env``): it records
    transform jobs and marks them Completed without running anything."""
    endpoint = aws.client("sagemaker").meta.endpoint_url
    return "amazonaws.com" not in endpoint and is_moto(endpoint, timeout=2)


def run_on_emulator(aws: Aws, package: Package, job: TransformJob, input_uri: str,
                    output_uri: str, *, echo: Echo = quiet, unit: str = "files") -> ShardedRun:
    """Do SageMaker's side of a transform job that moto only recorded: fetch the objects under
    ``input_uri``, run the package's image on this machine, one container per instance with
    the objects sharded by key, and put ``<key>.out`` under ``output_uri``.

    A failed file fails the job as on SageMaker (PlatformError with the records' errors).
    """
    s3 = aws.client("s3")
    in_bucket, in_prefix = split_prefix(input_uri)
    out_bucket, out_prefix = split_prefix(output_uri)
    base = folder(in_prefix)
    out_base = output_base(out_prefix)
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
                          environment=package.environment, progress=False, echo=echo,
                          unit=unit)
        echo(run.summary())
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
