"""Start the inference image as batch transform does, then run the transform against it."""

from __future__ import annotations

from pathlib import Path

import smkit_contract.env as env_names

from smkit.image import docker
from smkit.transform.config import TransformConfig
from smkit.transform.runner import TransformReport, run_transform

_STRATEGY_ENV = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}


def batch_environment(cfg: TransformConfig) -> dict[str, str]:
    """The variables SageMaker sets on a transform container: always SAGEMAKER_BATCH, and
    the payload, strategy and concurrency only when the job sets them (contract doc)."""
    environment = {env_names.BATCH: "true"}
    if cfg.max_payload_mb is not None:
        environment[env_names.MAX_PAYLOAD_IN_MB] = str(cfg.max_payload_mb)
    if cfg.batch_strategy is not None:
        environment[env_names.BATCH_STRATEGY] = _STRATEGY_ENV[cfg.batch_strategy]
    if cfg.max_concurrent_transforms is not None:
        environment[env_names.MAX_CONCURRENT_TRANSFORMS] = str(cfg.max_concurrent_transforms)
    environment.update(cfg.environment)
    return environment


def run_transform_with_image(cfg: TransformConfig, image: str, model: Path,
                             *, startup_timeout: float = 240) -> TransformReport:
    """Start ``image`` with ``model`` (a model directory or a model.tar.gz) and the batch
    environment, run the transform, and remove the container, also on errors."""
    from smkit.local.sdk import model_directory

    cfg.validate()
    with model_directory(model) as model_dir, docker.serve(
        image, model_dir, env=batch_environment(cfg), startup_timeout=startup_timeout
    ) as server:
        url = server.fastest_url()
        assert url is not None
        return run_transform(cfg, url)
