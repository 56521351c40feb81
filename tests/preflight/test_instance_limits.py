"""``smkit preflight`` runs the real image as each listed instance type (docker --cpus and
--memory from smkit's instance table, --network none) and holds it to Marketplace's limits.

The slow model's predict_fn sleeps on every request, so with one worker busy a /ping waits
behind it: the check must fail naming the instance type, the figure and the 2 s limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris
from smkit.aws import instances
from smkit.preflight import checks as preflight
from smkit.preflight.instance_limits import build_payload
from smkit.project import spec as spec_mod
from smkit.project import spec_yaml
from smkit_testkit import save_model

SLOW_HOOKS = """
import time

def predict_fn(data, model):
    time.sleep(2.5 if len(data) > 100 else 0)  # the smoke check's one row stays fast
    return model.predict(data)
"""


def write_spec(tmp_path: Path, image: str, model_dir: Path, **overrides: Any) -> spec_mod.Spec:
    (tmp_path / "validation").mkdir(exist_ok=True)
    X, _ = load_iris(return_X_y=True)
    np.savetxt(tmp_path / "validation" / "input.csv", X[:30], delimiter=",", fmt="%g")
    data: dict[str, Any] = {
        "name": "iris-limits", "region": "us-east-1", "description": "Iris",
        "model_dir": str(model_dir),
        "image": {"local": image, "repository": "smkit-test", "tag": "test"},
        "s3": {"bucket": "iris-limits", "prefix": "smkit"},
        "content_types": ["text/csv"], "response_types": ["text/csv"],
        "instance_types": {"realtime": ["ml.m5.large"], "transform": ["ml.m5.large"]},
        "validation": {"role": "arn:aws:iam::123456789012:role/SageMakerValidation",
                       "input": "validation/input.csv", "content_type": "text/csv"},
    }
    data.update(overrides)
    data["validation"]["instance_type"] = data["instance_types"]["transform"][0]
    path = tmp_path / "smkit.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec_yaml.load(path)


# ----------------------------------------------------------------------------- no engine


def test_a_type_with_no_size_gets_one_line_with_the_fix() -> None:
    line = instances.unknown_type_problem("ml.m9i.large", "realtime")
    assert line.startswith("instance_types.realtime: ml.m9i.large has no vCPU/memory size")
    assert "smkit/aws/instances.py" in line
    assert "\n" not in line


def test_a_payload_the_instance_cannot_hold_names_the_fix() -> None:
    small = instances.size_of("ml.c5.large")
    assert small is not None
    assert small.memory_gib == 4
    # A 3.5 GiB model leaves 512 MiB: one 100 MB mini-batch held 6 times does not fit.
    line = instances.payload_problem("ml.c5.large", small, 100, 1, int(3.5 * instances.GIB))
    assert line is not None
    assert line.startswith("ml.c5.large cannot hold the payload")
    assert "lower validation.max_payload_mb to 85 or less" in line
    # 85 MB x 6 copies = 510 MiB fits in the 512 MiB left; 86 would not.
    assert instances.payload_problem("ml.c5.large", small, 85, 1,
                                     int(3.5 * instances.GIB)) is None
    assert instances.payload_problem("ml.c5.large", small, 86, 1,
                                     int(3.5 * instances.GIB)) is not None
    assert instances.payload_problem("ml.m5.large", instances.SIZES["ml.m5.large"], 100, 1,
                                     10 * 1024 * 1024) is None


def test_workers_times_model_memory_over_the_instance_warns_with_a_worker_count() -> None:
    size = instances.SIZES["ml.m5.large"]  # 8 GiB
    line = instances.workers_problem("ml.m5.large", size, 4, 3 * instances.GIB)
    assert line is not None
    assert "4 workers x 3.00 GiB" in line
    assert "SAGEMAKER_MODEL_SERVER_WORKERS=2" in line
    assert instances.workers_problem("ml.m5.large", size, 2, 3 * instances.GIB) is None


def test_the_payload_is_whole_sample_records_up_to_the_target(tmp_path: Path) -> None:
    sample = tmp_path / "in.csv"
    sample.write_bytes(b"1,2,3\n4.5,6,7\n\n")
    body, note = build_payload(sample, "text/csv", 1000)
    assert note == ""
    assert 1000 - 10 < len(body) <= 1000
    lines = body.split(b"\n")
    assert lines[-1] == b""
    assert set(lines[:-1]) == {b"1,2,3", b"4.5,6,7"}


# ----------------------------------------------------------------------------- the image


@pytest.mark.container
def test_each_listed_type_runs_with_its_size_and_passes_the_limits(
    image: str, tmp_path: Path, iris_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A type botocore knows and the size table does not (yet): as after a botocore upgrade.
    monkeypatch.delitem(instances.SIZES, "ml.m7i.large")
    spec = write_spec(tmp_path, image, iris_model_dir,
                      instance_types={"realtime": ["ml.m5.large", "ml.c5.xlarge", "ml.m7i.large"],
                                      "transform": ["ml.c5.xlarge"]})
    report = preflight.Report()
    preflight.check_instance_types(spec, iris_model_dir, report)
    by_name = {c.name: c for c in report.checks}
    assert set(by_name) == {"size of ml.m7i.large", "ml.m5.large real-time",
                            "ml.c5.xlarge real-time", "ml.c5.xlarge batch"}, report.render()
    assert by_name.pop("size of ml.m7i.large").status == preflight.FAIL
    assert all(c.status == preflight.PASS for c in by_name.values()), report.render()
    assert "at 6.0 MB" in by_name["ml.m5.large real-time"].detail
    table = report.tables[0]
    print("\n" + report.render())
    rows = [r for r in table.splitlines() if r.startswith("| ml.")]
    assert [r.split("|")[1].strip() for r in rows] == ["ml.m5.large", "ml.c5.xlarge",
                                                      "ml.c5.xlarge"]
    cells = [c.strip() for c in rows[2].split("|")]
    assert cells[2] == "batch"
    assert cells[3].startswith("4")  # c5.xlarge: 4 vCPUs (this machine may have fewer)
    assert cells[4] == "8"  # and 8 GiB


def ping_check_on_a_busy_worker(image: str, tmp_path: Path, iris_model_dir: Path,
                                environment: dict[str, str]) -> preflight.Check:
    """Preflight's real-time check of one ml.c5.large worker whose predict takes a while."""
    slow = save_model(__import__("joblib").load(iris_model_dir / "model.joblib"),
                      tmp_path / "slow")
    (slow / "code").mkdir()
    (slow / "code" / "inference.py").write_text(SLOW_HOOKS)
    spec = write_spec(tmp_path, image, slow,
                      environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "1", **environment},
                      instance_types={"realtime": ["ml.c5.large"], "transform": ["ml.m5.large"]})
    report = preflight.Report()
    # Real-time only: the batch run would show the same.
    spec.instance_types.transform.clear()
    preflight.check_instance_types(spec, slow, report)
    print("\n" + report.render())
    [check] = report.checks
    return check


@pytest.mark.container
def test_a_ping_stuck_behind_busy_workers_fails_naming_type_figure_and_limit(
    image: str, tmp_path: Path, iris_model_dir: Path
) -> None:
    # One worker with one thread and no side door (gthread): nothing is left for /ping.
    check = ping_check_on_a_busy_worker(image, tmp_path, iris_model_dir,
                                        {"SMKIT_WORKER_CLASS": "gthread", "SMKIT_THREADS": "1"})
    assert check.status == preflight.FAIL
    assert check.detail.startswith("ml.c5.large: /ping took ")
    assert "the limit is 2 s" in check.detail


@pytest.mark.container
def test_the_default_worker_answers_ping_beside_the_same_busy_request(
    image: str, tmp_path: Path, iris_model_dir: Path
) -> None:
    """The case above with the default (sync) worker: its side door answers /ping."""
    check = ping_check_on_a_busy_worker(image, tmp_path, iris_model_dir, {})
    assert check.status == preflight.PASS, check.detail
