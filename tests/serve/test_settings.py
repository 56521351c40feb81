"""The server's settings: an empty environment gives the documented defaults (declared once,
on the dataclass), and the environment overrides each."""

from __future__ import annotations

from smkit_serve.settings import Settings, available_cpus


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    s = Settings.from_env({})
    assert (s.model_dir, s.port, s.workers, s.worker_class, s.threads) == (
        "/opt/ml/model", 8080, available_cpus(), "sync", 1)
    assert (s.timeout, s.graceful_timeout, s.batch, s.batch_strategy) == (
        60, 25, False, "MULTI_RECORD")
    assert (s.default_accept, s.default_output, s.program, s.access_log, s.log_level,
            s.metering) == (None, "labels", "inference.py", True, "INFO", False)
    assert s.max_payload_bytes == 6 * 1024 * 1024
    assert s.batch_payload_mb == 6


def test_batch_and_gthread_change_their_defaults() -> None:
    s = Settings.from_env({"SAGEMAKER_BATCH": "true", "SMKIT_WORKER_CLASS": "gthread"})
    assert (s.timeout, s.threads, s.max_payload_bytes) == (3600, 2, 100 * 1024 * 1024)


def test_the_environment_overrides_each_default() -> None:
    s = Settings.from_env({"SMKIT_MODEL_DIR": "/m", "SAGEMAKER_BIND_TO_PORT": "9000",
                           "SAGEMAKER_MODEL_SERVER_TIMEOUT": "7", "SMKIT_GRACEFUL_TIMEOUT": "3",
                           "SAGEMAKER_BATCH_STRATEGY": "single_record",
                           "SMKIT_DEFAULT_OUTPUT": "Probabilities", "SAGEMAKER_PROGRAM": "h.py",
                           "SMKIT_ACCESS_LOG": "off", "SMKIT_LOG_LEVEL": "debug",
                           "SMKIT_METERING": "per-inference"})
    assert (s.model_dir, s.port, s.timeout, s.graceful_timeout, s.batch_strategy) == (
        "/m", 9000, 7, 3, "SINGLE_RECORD")
    assert (s.default_output, s.program, s.access_log, s.log_level, s.metering) == (
        "probabilities", "h.py", False, "DEBUG", True)
