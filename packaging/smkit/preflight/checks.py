"""``smkit preflight``: the checks Marketplace would make, run locally before submission.

Each check returns pass, fail or skip with a one-line detail: the spec, role ARNs, one
account and region (against the credentials, the bucket and the pushed image when AWS or
the emulators answer), the artifact (versions, manifest), the image under ``--network none``
(/ping within 2 s, healthy in under 4 minutes), the validation profile's transform through
smkit's transform runner, and the CreateModelPackage request itself.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import smkit_contract.env as envnames
import smkit_contract.limits as limits

from smkit.aws import instances
from smkit.aws import push as push_mod
from smkit.aws.clients import Aws, call
from smkit.aws.publish import check_account, model_package_request, s3_layout
from smkit.aws.roles import FAIL, PASS, SKIP, check_role
from smkit.core.errors import SmkitError, UserError
from smkit.image import artifact as artifact_mod
from smkit.image import docker, pickle_scan
from smkit.image.artifact import model_file
from smkit.preflight import instance_limits as il
from smkit.project.spec import Spec
from smkit.project.transform_job import container_environment
from smkit.transform.runner import run_transform

WARN = "warn"


#: What to do when a check was skipped, by its name (else its own detail says it).
STILL_TO_DO = {"image pushed by digest": "push first (`smkit push SPEC` prints the image by "
                                         "digest), then pass it with --image-uri"}


@dataclass
class Check:
    """One line of the report."""

    name: str
    status: str
    detail: str
    seconds: float = 0.0


@dataclass
class Report:
    """Every check, in order; ``ok`` when none failed."""

    checks: list[Check] = field(default_factory=list)
    #: Figures worth quoting (startup seconds, artifact size, ...).
    figures: dict[str, Any] = field(default_factory=dict)
    #: Tables printed after the checks (the per-instance-type limits table).
    tables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (skips do not fail the report)."""
        return all(c.status != FAIL for c in self.checks)

    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.status == FAIL]

    def skipped(self) -> list[Check]:
        """The checks that did not run: what is still to do before submitting."""
        return [c for c in self.checks if c.status == SKIP]

    def verdict(self) -> str:
        """Ready, what failed, or what is still to do (a skip is never "ready")."""
        if not self.ok:
            return f"{len(self.failed())} check(s) failed"
        skipped = self.skipped()
        if not skipped:
            return "ready to submit"
        todo = [STILL_TO_DO.get(c.name, f"{c.name}: {c.detail}") for c in skipped]
        return ("not ready yet, " + ", ".join(c.name for c in skipped) + " skipped: "
                + "; ".join(dict.fromkeys(todo)) + "; then run preflight again")

    def render(self) -> str:
        """The report as aligned text lines."""
        width = max((len(c.name) for c in self.checks), default=10)
        lines = [f"{c.status.upper():4}  {c.name:<{width}}  {c.detail}" for c in self.checks]
        verdict = self.verdict()
        for tab in self.tables:
            lines += ["", tab, ""]
        lines.append(f"preflight: {verdict}")
        return "\n".join(lines)


def _run(report: Report, name: str, fn: Callable[[], tuple[str, str]],
         echo: Callable[[str], None] | None) -> str:
    """Run one check; an error becomes a failure with its message, and the next check runs."""
    t0 = time.monotonic()
    try:
        status, detail = fn()
    except SmkitError as e:
        status, detail = FAIL, str(e).splitlines()[0] if str(e) else type(e).__name__
    except Exception as e:  # noqa: BLE001 - one broken check must not hide the others
        status, detail = FAIL, f"unexpected {type(e).__name__}: {e}"
    check = Check(name, status, detail, time.monotonic() - t0)
    report.checks.append(check)
    if echo is not None:
        echo(f"{check.status.upper():4}  {name}: {detail}")
    return status


def check_roles(spec: Spec, aws: Aws | None) -> tuple[str, str]:
    """Role ARNs well formed (the spec enforces it) and, with AWS, the role exists."""
    result = check_role(aws, spec.validation.role, field="validation.role",
                        account=spec.account_id)
    return result.status, result.detail


def check_account_region(spec: Spec, aws: Aws | None, image_ref: str | None) -> tuple[str, str]:
    """Credentials, roles, bucket and image in one account and the spec's region."""
    if aws is None:
        return SKIP, "no AWS credentials or emulator: account and bucket region not checked"
    account = check_account(aws, spec)
    s3 = aws.client("s3")
    try:
        with call("s3", "GetBucketLocation"):
            loc = s3.get_bucket_location(Bucket=spec.s3.bucket).get("LocationConstraint")
        bucket_region = loc or "us-east-1"
    except SmkitError as e:
        if "NoSuchBucket" not in str(e):
            raise
        bucket_region = None
    if bucket_region is not None and bucket_region != spec.region:
        return FAIL, (f"s3.bucket {spec.s3.bucket} is in {bucket_region}, region is "
                      f"{spec.region}; use a bucket in {spec.region}")
    if image_ref:
        model_package_request(spec, image_ref, s3_layout(spec, "0" * 64, "0" * 64))
    where = "bucket will be created" if bucket_region is None else f"bucket in {bucket_region}"
    image = f", image {image_ref.split('/')[0]}" if image_ref else ""
    return PASS, f"account {account}, region {spec.region}, {where}{image}"


def check_image_pushed(aws: Aws | None, image_ref: str | None) -> tuple[str, str]:
    """The image the package will reference exists, by digest, in the registry."""
    if image_ref is None:
        return SKIP, "no pushed image given (--image-uri or image.uri); run smkit push"
    if aws is None:
        return SKIP, "no AWS credentials or emulator: the registry was not asked"
    if not push_mod.image_present(aws, image_ref):
        return FAIL, f"{image_ref} is not in the registry; run smkit push"
    return PASS, f"{image_ref.split('/', 1)[1]} is in the registry"


def check_network_none(spec: Spec, model_dir: Path, report: Report) -> tuple[str, str]:
    """The image starts with no network and answers /ping 200 within 2 s, healthy < 4 min."""
    with docker.serve(spec.image.local, model_dir, env=spec.environment, network="none",
                      startup_timeout=limits.STARTUP_LIMIT_SECONDS) as server:
        startup = server.ready_after or 0.0
        t0 = time.monotonic()
        status, _, _ = server.request_inside("GET", "/ping",
                                             timeout=limits.PING_TIMEOUT_SECONDS)
        ping_s = time.monotonic() - t0
    report.figures["startup_seconds"] = round(startup, 2)
    report.figures["ping_roundtrip_seconds"] = round(ping_s, 3)
    if status != 200:
        return FAIL, f"/ping answered {status} under --network none"
    if startup >= limits.STARTUP_LIMIT_SECONDS:
        limit = limits.STARTUP_LIMIT_SECONDS
        return FAIL, f"healthy after {startup:.1f} s; SageMaker allows {limit} s"
    return PASS, (f"healthy {startup:.1f} s after start (limit {limits.STARTUP_LIMIT_SECONDS} s);"
                  f" /ping 200 within {limits.PING_TIMEOUT_SECONDS} s (round trip via docker "
                  f"exec {ping_s:.2f} s)")


def batch_env(spec: Spec) -> dict[str, str]:
    """The environment of the validation job's container (SageMaker's merge)."""
    job = spec.validation.job(spec.environment)
    return container_environment(spec.environment, job.environment, job.batch_variables())


def check_transform(spec: Spec, model_dir: Path, report: Report) -> tuple[str, str]:
    """The validation profile's transform, through smkit's transform runner."""
    v = spec.validation
    out = Path(tempfile.mkdtemp(prefix="smkit-preflight-"))
    try:
        with docker.serve(spec.image.local, model_dir, env=batch_env(spec)) as server:
            assert server.url is not None
            cfg = v.job(spec.environment).to_config([v.input], out, progress=False,
                                                    environment=spec.environment)
            result = run_transform(cfg, endpoint_url=server.url)
        report.figures["transform_seconds"] = round(result.seconds, 2)
        report.figures["transform_records"] = result.records
        if not result.ok:
            return FAIL, result.summary().replace("\n", " | ")
        return PASS, result.summary().splitlines()[0]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _model_bytes(model_dir: Path) -> int:
    """Bytes of the model's files: what one loaded copy takes, roughly (numpy arrays load at
    about their size on disk)."""
    return sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())


def _listed_types(spec: Spec) -> list[tuple[str, str, str]]:
    """(instance type, mode, spec field) for every listed type, real-time ones first."""
    out = [(t, "real-time", "realtime") for t in dict.fromkeys(spec.instance_types.realtime)]
    out += [(t, "batch", "transform") for t in dict.fromkeys(spec.instance_types.transform)]
    return out


def _batch_concurrency(spec: Spec, vcpus: int, payload_mb: int) -> int:
    """MaxConcurrentTransforms as the job or the server (workers, within the 100 MB product)
    will have it."""
    if spec.validation.max_concurrent_transforms is not None:
        return spec.validation.max_concurrent_transforms
    workers = int(spec.environment.get(envnames.MODEL_SERVER_WORKERS, vcpus))
    return max(1, min(workers, limits.BATCH_CONCURRENCY_PAYLOAD_PRODUCT // payload_mb))


def check_instance_types(spec: Spec, model_dir: Path, report: Report,
                         echo: Callable[[str], None] | None = None) -> None:
    """Run the image as each listed instance type and hold it to Marketplace's limits.

    Adds one check per bad spec value (a type with no size in the table, a payload the
    instance cannot hold), one per instance type (fails name the type, the figure and the
    limit), a warning per type where workers x model memory may not fit, and the table.
    """
    def add(name: str, status: str, detail: str) -> None:
        report.checks.append(Check(name, status, detail))
        if echo is not None:
            echo(f"{status.upper():4}  {name}: {detail}")

    v = spec.validation
    model_bytes = _model_bytes(model_dir)
    runnable: list[tuple[str, str, instances.InstanceSize]] = []
    for itype, mode, use in _listed_types(spec):
        size = instances.size_of(itype)
        if size is None:
            add(f"size of {itype}", FAIL, instances.unknown_type_problem(itype, use))
            continue
        if mode == "batch":
            payload_mb = instances.batch_payload_mb(v.max_payload_mb)
            problem = instances.payload_problem(
                itype, size, payload_mb, _batch_concurrency(spec, size.vcpus, payload_mb),
                model_bytes)
            if problem is not None:
                add(f"payload on {itype}", FAIL, problem)
                continue
        runnable.append((itype, mode, size))
    if not runnable:
        return

    machine = docker.engine_resources()
    runs: dict[tuple[str, float, int], il.Measured] = {}
    rows: list[tuple[instances.RunAs, il.Measured]] = []
    for itype, mode, size in runnable:
        as_type = instances.run_as(itype, machine.cpus, machine.memory_bytes)
        assert as_type is not None  # sizes were looked up above
        key = (mode, as_type.cpus, as_type.memory_bytes)
        if key not in runs:
            target = (limits.REALTIME_MAX_PAYLOAD_MB if mode == "real-time"
                      else instances.batch_payload_mb(v.max_payload_mb)) * limits.MB
            payload, note = il.build_payload(v.input, v.content_type, target)
            env = dict(spec.environment) if mode == "real-time" else batch_env(spec)
            run = il.Run(mode, as_type, env, payload, v.content_type, note)
            runs[key] = il.measure(spec.image.local, model_dir, run)
        m = runs[key]
        rows.append((as_type, m))
        capped = ""
        if as_type.capped:
            capped = (f" [ran as {as_type.cpus:g} vCPU / "
                      f"{as_type.memory_bytes / instances.GIB:.1f} GiB: this machine has no more]")
        broken = il.breaches(itype, m)
        name = f"{itype} {mode}"
        if broken:
            add(name, FAIL, "; ".join(broken) + capped)
        else:
            add(name, PASS, il.summary(m) + capped + (f"; {m.run.payload_note}"
                                                      if m.run.payload_note else ""))
        if m.workers and m.master_rss_bytes:
            warning = instances.workers_problem(itype, size, m.workers, m.master_rss_bytes)
            if warning is not None:
                add(f"memory on {itype}", WARN, warning)
    report.tables.append(il.table(rows))


def _instances_step(spec: Spec, model_dir: Path, report: Report,
                    echo: Callable[[str], None] | None) -> tuple[str, str]:
    """check_instance_types as one summary check (its own checks are added before it)."""
    before = len(report.checks)
    check_instance_types(spec, model_dir, report, echo)
    added = report.checks[before:]
    bad = sum(c.status == FAIL for c in added)
    warned = sum(c.status == WARN for c in added)
    listed = len(_listed_types(spec))
    if bad:
        return FAIL, f"{bad} problem(s) over {listed} listed instance type(s); see above"
    return PASS, (f"{listed} listed instance type(s) hold the limits"
                  + (f" ({warned} warning(s))" if warned else ""))


def check_request(spec: Spec, image_ref: str | None) -> tuple[str, str]:
    """The CreateModelPackage request smkit would send is complete and certifiable."""
    ref = image_ref or (f"{spec.account or '123456789012'}.dkr.ecr.{spec.region}.amazonaws.com/"
                        f"{spec.image.repository}@sha256:{'0' * 64}")
    request = model_package_request(spec, ref, s3_layout(spec, "0" * 64, "0" * 64))
    inference = request["InferenceSpecification"]
    problems = []
    if request.get("CertifyForMarketplace") is not True:
        problems.append("CertifyForMarketplace is not true")
    for key in ("SupportedRealtimeInferenceInstanceTypes", "SupportedTransformInstanceTypes",
                "SupportedContentTypes", "SupportedResponseMIMETypes"):
        if not inference.get(key):
            problems.append(f"{key} is empty")
    if problems:
        return FAIL, "; ".join(problems)
    by = image_ref.split("@")[1][:19] + "..." if image_ref else "digest after smkit push"
    return PASS, f"CertifyForMarketplace=True, image by {by}, 1 validation profile"


def check_model_scan(spec: Spec) -> tuple[str, str]:
    """The model file references no global a model never needs (os.system, eval, ...),
    read without loading it, as ``smkit env detect`` reports it."""
    path = model_file(spec.model_dir)
    if path.suffix == ".skops":
        return PASS, f"{path.name} is a skops file: the server loads only the types it trusts"
    try:
        scan = pickle_scan.scan_model(path)
    except UserError as e:
        return FAIL, str(e)
    if scan.security_findings:
        found = "; ".join(str(f) for f in scan.security_findings[:5])
        return FAIL, (f"SECURITY: {path.name} calls or imports what no model needs ({found}); "
                      "Marketplace buyers run this file: re-save the model from a clean "
                      "environment and check where it came from")
    return PASS, f"{path.name}: {len(scan.globals)} globals from " + ", ".join(
        sorted({m.split(".")[0] for m in scan.modules})) + "; nothing unsafe"


def run(spec: Spec, aws: Aws | None, *, image_ref: str | None = None,
        echo: Callable[[str], None] | None = None, instances: bool = True) -> Report:
    """Run every check and return the report (never raises for a failed check).

    ``instances`` runs the image as each listed instance type (check_instance_types)."""
    report = Report()
    _run(report, "spec", lambda: (PASS, f"{spec.name}: {len(spec.instance_types.realtime)} "
                                  f"real-time, {len(spec.instance_types.transform)} transform "
                                  "instance types, content types " + ", ".join(spec.content_types)),
         echo)
    _run(report, "role ARNs", lambda: check_roles(spec, aws), echo)
    _run(report, "one account and region", lambda: check_account_region(spec, aws, image_ref),
         echo)
    _run(report, "model package request", lambda: check_request(spec, image_ref), echo)
    _run(report, "image pushed by digest", lambda: check_image_pushed(aws, image_ref), echo)
    _run(report, "model file scan", lambda: check_model_scan(spec), echo)
    tmp = Path(tempfile.mkdtemp(prefix="smkit-preflight-art-"))
    try:
        built: dict[str, Any] = {}

        def build() -> tuple[str, str]:
            art = artifact_mod.build(spec, out=tmp / "model.tar.gz")
            built["art"] = art
            artifact_mod.unpack(art.path, tmp / "model")
            (tmp / "model").chmod(0o755)
            report.figures["artifact_build_seconds"] = round(art.build_seconds, 3)
            report.figures["artifact_bytes"] = art.size
            versions = art.manifest["versions"]
            return PASS, (f"{art.size:,} bytes, sha256 {art.sha256[:12]}..., scikit-learn "
                          f"{versions['scikit-learn']} as in the image")

        if _run(report, "artifact and versions", build, echo) != PASS:
            for name in ("image under --network none", "validation transform",
                         "instance types"):
                report.checks.append(Check(name, SKIP, "skipped: no artifact"))
            return report
        model_dir = tmp / "model"
        _run(report, "image under --network none",
             lambda: check_network_none(spec, model_dir, report), echo)
        _run(report, "validation transform", lambda: check_transform(spec, model_dir, report),
             echo)
        if instances:
            _run(report, "instance types", lambda: _instances_step(spec, model_dir, report, echo),
                 echo)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report
