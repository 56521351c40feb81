"""Typed server settings, read once from the environment at start-up."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from smkit_contract import content_types as ct
from smkit_contract import env, limits
from smkit_contract.names import CONTAINER_MODEL_DIR, DEFAULT_PROGRAM


def available_cpus() -> int:
    """CPUs this process may use: the affinity mask, capped by a cgroup CPU quota if any."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = cpus or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        count = min(count, max(1, math.ceil(quota)))
    return count


def _cgroup_cpu_quota() -> float | None:
    """The CPU quota set on this container's cgroup (v2 or v1), or None when unlimited."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as fq, open(
            "/sys/fs/cgroup/cpu/cpu.cfs_period_us"
        ) as fp:
            q, p = int(fq.read()), int(fp.read())
        return None if q <= 0 else q / p
    except (OSError, ValueError):
        return None


#: The longest SageMaker lets one batch transform invocation run (InvocationsTimeoutInSeconds):
#: the most SAGEMAKER_MODEL_SERVER_TIMEOUT may say, and its value under batch when unset.
BATCH_TIMEOUT = 3600
#: Threads per worker for the gthread worker class, when none are set.
GTHREAD_THREADS = 2


class SettingsError(ValueError):
    """An environment variable has a value the server cannot use."""


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} is out of range; use {low} to {high}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} must be true or false")


@dataclass(frozen=True)
class Settings:
    """Everything the server is configured with."""

    #: Where SageMaker unpacks model.tar.gz.
    model_dir: str = CONTAINER_MODEL_DIR
    #: TCP port to listen on (SAGEMAKER_BIND_TO_PORT, default 8080).
    port: int = env.DEFAULT_PORT
    #: Number of gunicorn worker processes (from_env: one per available CPU).
    workers: int = 1
    #: gunicorn worker class: sync (smkit's, whose side door answers /ping while a long
    #: request runs, as SageMaker wants each /ping within 2 s) or gthread.
    worker_class: str = "sync"
    #: Threads per worker (gthread only; from_env: GTHREAD_THREADS for gthread).
    threads: int = 1
    #: Seconds a request may take before its worker is replaced (from_env: BATCH_TIMEOUT
    #: under batch transform).
    timeout: int = limits.INVOCATION_LIMIT_SECONDS
    #: Seconds in-flight requests get to finish after SIGTERM.
    graceful_timeout: int = 25
    #: Running under batch transform (SAGEMAKER_BATCH=true).
    batch: bool = False
    #: Largest request body in bytes.
    max_payload_bytes: int = limits.REALTIME_MAX_PAYLOAD_MB * limits.MB
    #: MaxPayloadInMB answered on /execution-parameters.
    batch_payload_mb: int = limits.DEFAULT_BATCH_PAYLOAD_MB
    #: BatchStrategy answered on /execution-parameters.
    batch_strategy: str = env.BATCH_STRATEGY_ENV[env.MULTI_RECORD]
    #: MaxConcurrentTransforms answered on /execution-parameters.
    max_concurrent_transforms: int = 1
    #: Response type for Accept */* or no Accept; None mirrors the request's type.
    default_accept: str | None = None
    #: "labels" or "probabilities" when the caller does not say.
    default_output: str = "labels"
    #: File name of the seller's hooks in <model_dir>/code.
    program: str = DEFAULT_PROGRAM
    #: Write one JSON access-log line per request.
    access_log: bool = True
    #: Python logging level name.
    log_level: str = "INFO"
    #: Emit X-Amzn-Inference-Metering (one unit per record) on 2XX invocations.
    metering: bool = False

    @property
    def threaded(self) -> bool:
        """gunicorn's gthread worker serves (as in gunicorn, sync with threads is gthread):
        its requests get their own time limit (watchdog.py), as the heartbeat no longer
        stops while one runs."""
        return self.worker_class == "gthread" or self.threads > 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``environ`` (default ``os.environ``); raise SettingsError."""
        e = os.environ if environ is None else environ
        d = cls()  # the defaults, declared once on the fields above
        cpus = available_cpus()
        workers = _int(e, env.MODEL_SERVER_WORKERS, cpus, 1, 256)
        batch = _bool(e, env.BATCH, d.batch)

        payload_mb = _int(e, env.MAX_PAYLOAD_IN_MB, 0, 0, limits.BATCH_MAX_PAYLOAD_MB)
        if batch:
            # 0 means the job streams bodies with chunked encoding: accept up to the batch cap.
            max_bytes = (payload_mb or limits.BATCH_MAX_PAYLOAD_MB) * limits.MB
        else:
            max_bytes = limits.REALTIME_MAX_PAYLOAD_MB * limits.MB
        answered_payload = payload_mb or d.batch_payload_mb

        strategy = e.get(env.BATCH_STRATEGY, "").strip().upper() or d.batch_strategy
        if strategy not in env.BATCH_STRATEGY_FROM_ENV:
            raise SettingsError(
                f"{env.BATCH_STRATEGY}={strategy!r} must be "
                + " or ".join(env.BATCH_STRATEGY_FROM_ENV)
            )
        # SageMaker requires MaxConcurrentTransforms x MaxPayloadInMB <= 100.
        cap = max(1, limits.BATCH_CONCURRENCY_PAYLOAD_PRODUCT // answered_payload)
        concurrency = _int(e, env.MAX_CONCURRENT_TRANSFORMS, min(workers, cap), 1, 1000)

        default_accept = e.get(env.DEFAULT_INVOCATIONS_ACCEPT, "").strip() or None
        if default_accept is not None:
            default_accept = ct.canonical(default_accept.split(";")[0])
            if default_accept not in ct.SUPPORTED:
                raise SettingsError(
                    f"{env.DEFAULT_INVOCATIONS_ACCEPT}={default_accept!r} is not supported; "
                    f"use one of {', '.join(ct.SUPPORTED)}"
                )
        default_output = e.get(env.DEFAULT_OUTPUT, "").strip().lower() or d.default_output
        if default_output not in ("labels", "probabilities"):
            raise SettingsError(f"{env.DEFAULT_OUTPUT} must be 'labels' or 'probabilities'")
        worker_class = e.get(env.WORKER_CLASS, "").strip() or d.worker_class
        if worker_class not in ("sync", "gthread"):
            raise SettingsError(f"{env.WORKER_CLASS} must be 'sync' or 'gthread'")
        timeout_default = BATCH_TIMEOUT if batch else d.timeout
        metering = e.get(env.METERING, "none").strip().lower() or "none"
        if metering not in ("none", "per-inference"):
            raise SettingsError(f"{env.METERING} must be 'none' or 'per-inference'")

        return cls(
            model_dir=e.get(env.MODEL_DIR, d.model_dir),
            port=_int(e, env.BIND_TO_PORT, d.port, 1, 65535),
            workers=workers,
            worker_class=worker_class,
            threads=_int(e, env.THREADS,
                         GTHREAD_THREADS if worker_class == "gthread" else d.threads, 1, 64),
            timeout=_int(e, env.MODEL_SERVER_TIMEOUT, timeout_default, 1, BATCH_TIMEOUT),
            graceful_timeout=_int(e, env.GRACEFUL_TIMEOUT, d.graceful_timeout, 1, 300),
            batch=batch,
            max_payload_bytes=max_bytes,
            batch_payload_mb=answered_payload,
            batch_strategy=strategy,
            max_concurrent_transforms=concurrency,
            default_accept=default_accept,
            default_output=default_output,
            program=e.get(env.PROGRAM, "").strip() or d.program,
            access_log=_bool(e, env.ACCESS_LOG, d.access_log),
            log_level=e.get(env.LOG_LEVEL, "").strip().upper() or d.log_level,
            metering=metering == "per-inference",
        )
