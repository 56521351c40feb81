"""Start the inference image as batch transform does, then run the transform against it."""

from __future__ import annotations

from pathlib import Path

from smkit.image import docker
from smkit.image.artifact import model_directory
from smkit.project.transform_job import TransformConfig
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
