"""Isolation and faults with the real image: no network, read-only root, no capabilities,
one listening port, nothing secret in the layers; killed workers, SIGTERM under load.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
import requests
from smkit.image.docker import serve
from smkit_testkit import docker, save_model, wait_for_ping

pytestmark = pytest.mark.container

CSV = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3"


def test_runs_like_a_marketplace_buyer_runs_it(image: str, iris_model_dir: Path) -> None:
    # No network at all, read-only root filesystem, every capability dropped.
    with serve(image, iris_model_dir, network="none", read_only=True,
               extra_args=("--cap-drop", "ALL", "--security-opt", "no-new-privileges"),
               startup_timeout=60) as srv:
        status, _, _ = srv.request_inside("GET", "/ping")
        assert status == 200
        status, _headers, body = srv.request_inside(
            "POST", "/invocations", CSV.encode(), {"Content-Type": "text/csv"})
        assert status == 200
        assert len(body.split(b"\n")) == 2
        interfaces = docker("exec", srv.name, "cat", "/proc/net/dev").stdout
        assert re.findall(r"^\s*(\w+):", interfaces, re.M) == ["lo"]


def test_nothing_listens_but_the_serving_port(image: str, iris_model_dir: Path) -> None:
    with serve(image, iris_model_dir, startup_timeout=60) as srv:
        time.sleep(1)  # every worker has booted
        listening = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"):
            out = docker("exec", srv.name, "cat", table, check=False).stdout
            for line in out.splitlines()[1:]:
                fields = line.split()
                state, port = fields[3], int(fields[1].rsplit(":", 1)[1], 16)
                if table.endswith(("udp", "udp6")) or state == "0A":  # 0A: LISTEN
                    listening.add((table.rsplit("/", 1)[1], port))
        assert listening == {("tcp", 8080)}


def _certs(pem: bytes) -> set[str]:
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
    return {hashlib.sha256(b"".join(b.split())).hexdigest() for b in blocks}


def test_no_secret_credential_or_build_time_ca_in_any_layer(image: str) -> None:
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    for word in ("AWS_SECRET", "AWS_ACCESS_KEY", "PASSWORD", "TOKEN", "--SECRET", "PIP_CERT"):
        assert word not in history.upper()
    saved = subprocess.run(["docker", "save", image], capture_output=True, check=True,
                           timeout=300).stdout
    host_only = set()
    host_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    suspicious: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(saved)) as outer:
        layers = [m for m in outer.getmembers() if m.name.endswith("layer.tar")
                  or (m.isfile() and m.name.startswith("blobs/"))]
        image_certs: set[str] = set()
        for member in layers:
            data = outer.extractfile(member)
            if data is None:
                continue
            try:
                layer = tarfile.open(fileobj=io.BytesIO(data.read()))  # noqa: SIM115
            except tarfile.ReadError:
                continue  # a config blob, not a layer
            with layer:
                for f in layer.getmembers():
                    name = f.name
                    if re.search(r"(^|/)(\.aws/|\.docker/config\.json|pip\.conf|\.netrc|"
                                 r"id_rsa|wheelhouse/)", name) or name.endswith((".key",)):
                        suspicious.append(name)
                    if f.isfile() and name.endswith((".crt", ".pem")):
                        content = layer.extractfile(f)
                        if content is not None:
                            image_certs |= _certs(content.read())
    assert suspicious == []
    if host_bundle.exists():
        debian_bundle = docker("run", "--rm", "--entrypoint", "cat", image,
                               "/etc/ssl/certs/ca-certificates.crt").stdout.encode()
        host_only = _certs(host_bundle.read_bytes()) - _certs(debian_bundle)
        # The build machine's extra CAs (a TLS-inspecting proxy's, here) never reach the image.
        assert host_only.isdisjoint(image_certs)


SLOW_HOOKS = """
import time

def predict_fn(data, model):
    if float(data[0][0]) == 98.0:
        time.sleep(0.3)
    return model.predict(data)
"""


@pytest.fixture(scope="module")
def slowish_model_dir(tmp_path_factory: pytest.TempPathFactory, iris) -> Path:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    d = save_model(DecisionTreeClassifier().fit(X, y), tmp_path_factory.mktemp("slowish"))
    (d / "code").mkdir()
    (d / "code" / "inference.py").write_text(SLOW_HOOKS)
    return d


def _worker_pids(name: str) -> list[int]:
    rows = docker("top", name, "-o", "pid,ppid,args").stdout.splitlines()[1:]
    procs = [r.split(None, 2) for r in rows]
    pids = {int(p[0]) for p in procs}
    return sorted(int(p[0]) for p in procs if int(p[1]) in pids and "smkit_serve" in p[2])


def test_a_killed_worker_is_replaced_and_the_next_requests_succeed(
    container_factory, slowish_model_dir: Path
) -> None:
    c = container_factory(slowish_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    deadline = time.monotonic() + 20
    while len(_worker_pids(c.name)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    victims = _worker_pids(c.name)
    assert len(victims) == 2
    def doomed() -> None:  # its worker is killed under it: a dropped connection is expected
        with contextlib.suppress(requests.ConnectionError):
            c.post("98,3,4,1", "text/csv")

    t = threading.Thread(target=doomed, daemon=True)
    t.start()
    time.sleep(0.1)
    subprocess.run(["kill", "-9", str(victims[0])], check=True)
    t.join(timeout=10)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = _worker_pids(c.name)
        if len(now) == 2 and victims[0] not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2
    assert victims[0] not in now
    for _ in range(20):
        assert c.post(CSV, "text/csv").status_code == 200


def test_sigterm_under_load_finishes_every_accepted_request(
    container_factory, slowish_model_dir: Path
) -> None:
    c = container_factory(slowish_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    results: list[tuple[str, object]] = []
    stop = threading.Event()

    def client() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                r = session.post(f"{c.url}/invocations", data="98,3,4,1",
                                 headers={"Content-Type": "text/csv"}, timeout=30)
                results.append(("status", r.status_code))
            except requests.ConnectionError as e:
                results.append(("refused" if "refused" in str(e).lower() else "error", str(e)))
                return

    threads = [threading.Thread(target=client) for _ in range(2)]
    for th in threads:
        th.start()
    time.sleep(1.5)
    docker("kill", "--signal", "TERM", c.name)
    docker("wait", c.name, timeout=40)
    stop.set()
    for th in threads:
        th.join(timeout=30)
    statuses = [v for kind, v in results if kind == "status"]
    assert statuses
    assert set(statuses) == {200}
    state = json.loads(docker("inspect", c.name).stdout)[0]["State"]
    assert state["ExitCode"] == 0


def test_the_server_answers_correctly_after_a_storm_of_garbage(
    container_factory, iris_model_dir: Path
) -> None:
    c = container_factory(iris_model_dir, env={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"})
    good = c.post(CSV, "text/csv").text
    session = requests.Session()
    for i in range(200):
        body = bytes((i * 37 + k) % 256 for k in range(i % 64))
        r = session.post(f"{c.url}/invocations", data=body,
                         headers={"Content-Type": ["text/csv", "application/json",
                                                   "application/jsonlines",
                                                   "application/x-npy"][i % 4]}, timeout=10)
        assert r.status_code < 500, (i, r.status_code, r.text)
    assert wait_for_ping(c.url, 5)[0] == 200
    assert c.post(CSV, "text/csv").text == good
