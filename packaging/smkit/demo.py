"""``smkit demo``: the seller's whole journey, offline, on embedded defaults.

Trains an example model (scikit-learn's wine data with a derived string column, in a
Pipeline), makes sure the image exists, runs a local endpoint and a local batch transform
(SageMaker SDK local mode), starts the emulators (moto, a registry, the Catalog API
emulator), then runs the public smkit commands a seller would: spec check, package, push,
preflight, publish, listing init/check/render/publish (VALIDATE, then APPLY)/preview, and
the buyer's transform from the model package ARN. Each command's full output goes to
``<out>/logs/``; the console gets one line per step with its timing.

Re-runnable: every file is rewritten, the model package and listing converge to the same
entities while the emulators keep running, and the listing state is dropped when they were
restarted (a fresh emulator has no product to update).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import smkit_contract.env as env_names
import yaml

from smkit.core import paths
from smkit.core.errors import PlatformError, UserError
from smkit.emulators import manager
from smkit.image import build as images
from smkit.image import docker
from smkit.listing.model import placeholders
from smkit.listing.starter import dump_yaml
from smkit.local import housekeeping

Echo = Callable[..., None]

DEFAULT_OUT = paths.DEMO_OUT
#: The image the demo packages; a private tag so a concurrent rebuild of :latest cannot
#: change the digest halfway through.
DEMO_TAG = "smkit-inference:demo"
#: moto's account: the demo's roles, bucket and image all live in it.
ACCOUNT = "123456789012"
VALIDATION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SmkitDemoValidation"
ACCESS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SmkitDemoMarketplaceAccess"
NAME = "smkit-demo-wine"
_ARN_RE = re.compile(r"model package: (arn:\S+)")
_PRODUCT_RE = re.compile(r"published: product (\S+), offer (\S+)")
_ARTIFACT_RE = re.compile(r"artifact: (\S+)")


# ----------------------------------------------------------------------------- the model


@dataclass
class Example:
    """The trained example model and the files made from its held-out data."""

    model_dir: Path
    validation_input: Path
    labeled: Path
    request: Path
    accuracy: float
    train_rows: int
    test_rows: int
    features: list[str]
    classes: list[str]


def example_data() -> tuple[Any, Any]:
    """scikit-learn's wine data (no download) with ``hue`` turned into a string band.

    The string column is what makes the Pipeline real: the image must read CSV with numbers
    and strings, and the model must one-hot encode it.
    """
    # The data-science imports here and below are deferred on purpose: scikit-learn, pandas
    # and joblib are slow to import, and only the demo's model needs them, no other command.
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.frame.drop(columns=["target"])
    band = pd.qcut(frame["hue"], 3, labels=["pale", "medium", "deep"]).astype(str)
    frame = frame.drop(columns=["hue"]).assign(hue_band=band)
    labels = np.array([f"cultivar_{i + 1}" for i in data.target])
    return frame, labels


def _split(frame: Any, labels: Any) -> tuple[Any, Any, Any, Any]:
    from sklearn.model_selection import train_test_split  # deferred: see example_data

    parts = train_test_split(frame, labels, test_size=0.25, random_state=0, stratify=labels)
    return parts[0], parts[1], parts[2], parts[3]


def held_out_csv(rows: int) -> str:
    """The first ``rows`` held-out records as headerless CSV (the buyer notebook's sample)."""
    frame, labels = example_data()
    x_test = _split(frame, labels)[1]
    return str(x_test.head(rows).to_csv(header=False, index=False)).rstrip("\n")


def train_example(out: Path) -> Example:
    """Fit the Pipeline, save ``model/model.joblib`` and the held-out data under ``out``."""
    import joblib  # deferred on purpose, as in example_data: heavy, and only the model needs it
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, labels = example_data()
    numeric = [c for c in frame.columns if c != "hue_band"]
    x_train, x_test, y_train, y_test = _split(frame, labels)
    model = Pipeline([
        ("features", ColumnTransformer([
            ("band", OneHotEncoder(handle_unknown="ignore"), ["hue_band"]),
            ("numeric", StandardScaler(), numeric),
        ])),
        ("classifier", LogisticRegression(max_iter=1000)),
    ]).fit(x_train, y_train)
    accuracy = float(model.score(x_test, y_test))
    model_dir = out / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    for stale in model_dir.iterdir():
        if stale.is_file():
            stale.unlink()
    joblib.dump(model, model_dir / "model.joblib")
    validation = out / "validation"
    validation.mkdir(parents=True, exist_ok=True)
    (validation / "input.csv").write_text(x_test.to_csv(header=False, index=False))
    labeled = x_test.assign(label=y_test)
    (validation / "labeled.csv").write_text(labeled.to_csv(header=False, index=False))
    # One record per class, as Marketplace recommends for a classifier's sample.
    firsts = [list(y_test).index(c) for c in sorted(set(y_test))]
    (validation / "request.csv").write_text(
        x_test.iloc[firsts].to_csv(header=False, index=False).rstrip("\n"))
    return Example(model_dir, validation / "input.csv", validation / "labeled.csv",
                   validation / "request.csv", accuracy, len(x_train), len(x_test),
                   list(frame.columns), sorted(set(labels)))


# ----------------------------------------------------------------------------- embedded files


def spec_data(image: str | None, python: dict[str, Any] | None = None) -> dict[str, Any]:
    """The demo's package spec (``smkit.yaml``), paths relative to the demo folder.

    With ``python`` (the section ``smkit env detect`` wrote) the model gets its own product
    image and ``image.local`` is left to smkit; else ``image`` is the image to push.
    """
    data: dict[str, Any] = {
        "name": NAME,
        "region": manager.REGION,
        "account_id": ACCOUNT,
        "description": "Wine cultivar classifier: a scikit-learn Pipeline (smkit demo)",
        "model_dir": "model",
        "image": {"local": None, "repository": NAME, "tag": "demo"},
        "s3": {"bucket": f"smkit-demo-{ACCOUNT}", "prefix": "smkit"},
        "content_types": ["text/csv", "application/json", "application/jsonlines"],
        "response_types": ["text/csv", "application/json", "application/jsonlines"],
        "instance_types": {"realtime": ["ml.m5.large", "ml.c5.xlarge"],
                           "transform": ["ml.m5.large"]},
        "validation": {"role": VALIDATION_ROLE, "input": "validation/input.csv",
                       "content_type": "text/csv", "split_type": "Line",
                       "instance_type": "ml.m5.large"},
        "output_dir": "build",
    }
    if python:
        data["python"] = python
        del data["image"]["local"]
    else:
        data["image"]["local"] = image
    return data


def listing_text(example: Example | None = None) -> dict[str, Any]:
    """What only the seller can write, for the demo's listing (fills ``listing init``'s TODOs)."""
    rows = f"{example.train_rows} training rows" if example else "133 training rows"
    return {
        "product": {
            "title": "Wine cultivar classifier (scikit-learn)",
            "short_description": "Tells which of three cultivars a wine comes from, from 12 "
                                 "chemical measurements and its hue band.",
            "long_description": "A logistic regression in a scikit-learn Pipeline: the hue band "
                                "(pale, medium, deep) is one-hot encoded and the chemical "
                                "measurements are standardised.\n\nUse it to check the "
                                "declared origin of a wine lot from a lab analysis.",
            "highlights": ["One answer per record, in milliseconds",
                           "CSV, JSON and JSON Lines in and out",
                           "Class probabilities on request"],
            "categories": ["Machine Learning"],
            "keywords": ["wine", "classification", "scikit-learn"],
            "logo_url": "https://example.com/smkit-demo/logo.png",
        },
        "support": {"description": "Email support@example.com; answers within two working "
                                   "days.",
                    "refund_policy": "Refunds within 30 days of purchase."},
        "training_data": {"source": "UCI wine recognition data, as shipped with scikit-learn "
                                    "(load_wine)",
                          "size": f"178 rows, 3 cultivars; {rows}",
                          "limitations": "Only three cultivars from one region of Italy; "
                                         "other wines get one of those three labels."},
        "sample_notebook_url": "https://example.com/smkit-demo/sample-notebook.ipynb",
        "repository_url": "https://example.com/smkit-demo/wine-cultivar",
        "price": "0.20",
        "free_trial_days": 14,
    }


def fill_listing(path: Path, text: dict[str, Any]) -> int:
    """Replace the TODOs ``listing init`` left in ``path`` with ``text``; returns how many.

    Raises UserError naming any TODO left over (a new field the demo does not know).
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    before = placeholders(data)
    data["product"].update(text["product"])
    data["support"].update(text["support"])
    data["training_data"].update(text["training_data"])
    data["delivery"]["sample_notebook_url"] = text["sample_notebook_url"]
    data["delivery"]["repository_url"] = text["repository_url"]
    pricing = data["pricing"]
    for kind in ("realtime", "batch"):
        if isinstance(pricing.get(kind), dict):
            pricing[kind] = {k: text["price"] for k in pricing[kind]}
    if "per_inference" in pricing:
        pricing["per_inference"] = "0.001"
    if "free_trial_days" in pricing:
        pricing["free_trial_days"] = text["free_trial_days"]
    left = placeholders(data)
    if left:
        raise UserError(f"{path}: the demo does not know how to fill {', '.join(left)}")
    path.write_text("# smkit demo listing: `listing init` output, filled in by the demo\n"
                    + dump_yaml(data),
                    encoding="utf-8")
    return len(before)


# ----------------------------------------------------------------------------- steps


@dataclass
class Journey:
    """Runs the steps: numbers them, times them, logs each command's output."""

    out: Path
    total: int
    echo: Echo
    #: The image the model runs in (the product image, unless --image named one).
    image: str = DEMO_TAG
    #: The python section of the spec (from `smkit env detect`); None with --image.
    python: dict[str, Any] | None = None
    index: int = 0
    env: dict[str, str] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        """Where each command's full output goes."""
        return self.out / "logs"

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[list[str]]:
        """One numbered step; the block appends a short result to the yielded list."""
        self.index += 1
        self.echo(f"[{self.index:2}/{self.total}] {title} ... ", nl=False)
        started = time.monotonic()
        detail: list[str] = []
        try:
            yield detail
        except BaseException:
            self.echo(f"failed ({time.monotonic() - started:.1f} s)")
            raise
        seconds = time.monotonic() - started
        self.timings.append((title, seconds))
        self.echo(f"{'; '.join(detail) or 'ok'} ({seconds:.1f} s)")

    def smkit(self, *args: str, timeout: float = 900) -> str:
        """Run ``smkit ARGS`` (this Python) in the demo folder; return stdout, log both."""
        log = self.logs / f"{self.index:02d}-{args[0]}-{args[1] if len(args) > 1 else ''}"
        log = log.with_name(log.name.rstrip("-").replace("/", "_") + ".log")
        env = {**os.environ, **self.env}
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        try:
            proc = subprocess.run([sys.executable, "-m", "smkit.cli", *args], cwd=self.out,
                                  env=env, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise PlatformError(f"`smkit {' '.join(args[:2])}` did not finish within "
                                f"{timeout:.0f} s") from None
        log.write_text(f"$ smkit {' '.join(args)}\n--- stdout\n{proc.stdout}\n--- stderr\n"
                       f"{proc.stderr}", encoding="utf-8")
        if proc.returncode != 0:
            tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-12:]
            raise PlatformError(f"`smkit {' '.join(args[:2])}` failed (exit {proc.returncode})"
                                f":\n  " + "\n  ".join(tail) + f"\nfull log: {log}")
        return proc.stdout


def local_mode(j: Journey, *args: str) -> str:
    """An ``smkit local ...`` or ``smkit buyer ...`` command (SDK local mode), retried once:
    other local-mode runs on this engine (tests, another terminal) can make one start fail."""
    try:
        return j.smkit(*args)
    except PlatformError as first:
        if "another smkit local-mode run held" in str(first):
            raise  # waiting again would not help: say so now
        j.echo(f"retrying once ({str(first).splitlines()[0]}) ... ", nl=False)
        housekeeping.remove_leftovers()
        return j.smkit(*args)


def ensure_image(source: str) -> str:
    """Build ``source`` when the engine lacks it and it is the default image, then tag it
    ``DEMO_TAG``; returns the image ID."""
    images.for_spec_default(source)
    if not docker.image_exists(source):
        raise UserError(f"image {source} is not built; build it, or leave --image out")
    docker.docker("tag", source, DEMO_TAG)
    return docker.docker("image", "inspect", "-f", "{{.Id}}", DEMO_TAG).stdout.decode().strip()


def write_spec(j: Journey) -> Path:
    """``smkit.yaml`` in the demo folder, from the embedded defaults."""
    spec = j.out / "smkit.yaml"
    spec.write_text("# smkit demo package spec (embedded defaults)\n"
                    + yaml.safe_dump(spec_data(j.image, j.python), sort_keys=False),
                    encoding="utf-8")
    return spec


def ensure_roles(env: dict[str, str]) -> list[str]:
    """Create the demo's IAM roles on the emulator (a real seller account already has them)."""
    iam = boto3.client("iam", endpoint_url=env["AWS_ENDPOINT_URL"],
                       region_name=env["AWS_DEFAULT_REGION"],
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    created = []
    for arn in (VALIDATION_ROLE, ACCESS_ROLE):
        name = arn.rsplit("/", 1)[1]
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=(
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
                '{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}'))
            created.append(name)
    return created


def _count_lines(path: Path) -> int:
    return len([line for line in path.read_text(encoding="utf-8").splitlines() if line])


@dataclass
class Summary:
    """What the demo made."""

    out: Path
    paths: dict[str, Path] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def render(self) -> str:
        """The closing summary: facts, then the paths."""
        width = max(len(k) for k in [*self.paths, *self.facts])
        lines = [f"smkit demo: done in {self.seconds:.0f} s"]
        lines += [f"  {k:<{width}}  {v}" for k, v in self.facts.items()]
        lines += [f"  {k:<{width}}  {v}" for k, v in self.paths.items()]
        return "\n".join(lines)


STEPS = 19


def run(out: Path = DEFAULT_OUT, *, image: str | None = None, keep_emulators: bool = False,
        echo: Echo | None = None) -> Summary:
    """The whole journey into ``out``; returns the summary (also printed through ``echo``)."""
    echo = echo or _print
    started = time.monotonic()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    j = Journey(out, STEPS, echo)
    j.logs.mkdir(exist_ok=True)
    summary = Summary(out)
    # Local mode binds a host port; a free one, so another local-mode user of 8080 is no
    # obstacle.
    port = str(docker.free_port())

    with j.step("train the example model (wine, Pipeline with a string column)") as d:
        ex = train_example(out)
        d.append(f"accuracy {ex.accuracy:.3f} on {ex.test_rows} held-out rows")
    summary.paths["model"] = ex.model_dir / "model.joblib"

    # Containers of earlier local-mode runs whose process died (a Ctrl-C'd demo).
    housekeeping.remove_leftovers()
    if image is not None:
        with j.step(f"inference image {image}") as d:
            image_id = ensure_image(image)
            d.append(f"{DEMO_TAG} = {image_id[7:19]}")
    else:
        with j.step("product image: smkit env detect, then smkit build") as d:
            detected = yaml.safe_load(j.smkit("env", "detect", "--model", "model/model.joblib"))
            j.python = detected["python"]
            write_spec(j)
            j.image = j.smkit("build", "smkit.yaml").strip().splitlines()[-1]
            d.append(f"{j.image}: " + ", ".join(j.python.get("packages", [])))
    summary.facts["inference image"] = j.image
    image_args = ("--image", j.image) if j.python is None else ("--spec", "smkit.yaml")

    with j.step("local endpoint (SDK local mode): deploy, invoke, tear down") as d:
        answer = local_mode(j, "local", "endpoint", "model", *image_args, "--port", port,
                            "--sample", str(ex.request.relative_to(out)))
        d.append("predicted " + ", ".join(answer.split()))

    transform_out = out / "local-transform"
    with j.step("local batch transform (SDK local mode)") as d:
        local_mode(j, "local", "transform", "model", "validation/input.csv", str(transform_out),
                   *image_args, "--port", port, "--strategy", env_names.MULTI_RECORD)
        result = transform_out / "input.csv.out"
        n = _count_lines(result)
        if n != ex.test_rows:
            raise PlatformError(f"{result} has {n} records for {ex.test_rows} inputs")
        d.append(f"{n} records -> {result.relative_to(out)}")
    summary.paths["local transform"] = result

    was_running = manager.healthy(manager.read_state(out))
    started_here = False
    try:
        with j.step("emulators: moto, registry, Catalog API") as d:
            services = manager.up(out)
            started_here = not was_running
            j.env = manager.environ(services)
            if started_here:
                # A fresh Catalog emulator has no product: forget the one a past run made.
                paths.listing_state(out / "listing" / "listing.yaml").unlink(missing_ok=True)
            d.append(("reused" if was_running else "started") + ": "
                     + ", ".join(f"{s.name} :{s.port}" for s in services.values()))
        _seller(j, ex, summary, port)
    finally:
        if started_here and not keep_emulators:
            manager.down(out)
    if keep_emulators or was_running:
        summary.facts["emulators"] = (f"still running: eval \"$(SMKIT_HOME={out} smkit "
                                      "emulators env)\"")
    else:
        summary.facts["emulators"] = "stopped (pass --keep-emulators to keep them)"
    summary.paths["logs"] = j.logs
    summary.seconds = time.monotonic() - started
    (out / "summary.txt").write_text(summary.render() + "\n", encoding="utf-8")
    echo(summary.render())
    return summary


def _seller(j: Journey, ex: Example, summary: Summary, port: str) -> None:
    """The steps against the emulators: package to listing, then the buyer's transform."""
    arn = _publish_package(j, summary)
    _list_product(j, ex, summary, arn)
    _buy(j, ex, summary, arn, port)


def _publish_package(j: Journey, summary: Summary) -> str:
    """Roles, spec, package, push, preflight and publish; returns the model package ARN."""
    out = j.out
    with j.step("seller account: IAM roles on the emulator") as d:
        created = ensure_roles(j.env)
        d.append(f"created {', '.join(created)}" if created else "already there")

    spec = out / "smkit.yaml"
    with j.step("spec: write and check smkit.yaml") as d:
        write_spec(j)
        d.append(j.smkit("spec", "check", "smkit.yaml").strip())
    summary.paths["spec"] = spec

    with j.step("package: model.tar.gz + manifest, proven in the image") as d:
        text = j.smkit("package", "smkit.yaml")
        m = _ARTIFACT_RE.search(text)
        if m is None:
            raise PlatformError(f"`smkit package` printed no artifact path: {text[-300:]}")
        artifact = Path(m.group(1))
        d.append(f"{artifact.relative_to(out)}, {artifact.stat().st_size:,} bytes")
    summary.paths["artifact"] = artifact

    with j.step("push: image to the ECR stand-in, by digest") as d:
        ref = j.smkit("push", "smkit.yaml").strip().splitlines()[-1]
        d.append(ref.split("/", 1)[1][:40] + "...")
    summary.facts["image"] = ref

    with j.step("preflight: Marketplace's checks, locally") as d:
        report = j.smkit("preflight", "smkit.yaml", "--image-uri", ref)
        d.append(f"{report.count('PASS')} passed")

    with j.step("publish: certified model package") as d:
        text = j.smkit("publish", "smkit.yaml", "--no-verify", "--timeout", "300")
        m = _ARN_RE.search(text)
        if m is None:
            raise PlatformError(f"`smkit publish` printed no ARN: {text[-300:]}")
        arn = m.group(1)
        d.append(arn.split(":", 5)[5])
    summary.facts["model package"] = arn
    return arn


def _list_product(j: Journey, ex: Example, summary: Summary, arn: str) -> None:
    """The listing from the package: init, fill in, check, render, publish, preview."""
    out = j.out
    listing_dir = out / "listing"
    listing = listing_dir / "listing.yaml"
    with j.step("listing init: from the package, measured in the image") as d:
        j.smkit("listing", "init", "--model-package", arn, "--validation",
                str(ex.labeled), "--access-role-arn", ACCESS_ROLE, "--image", j.image,
                "--out", str(listing), "--force")
        d.append(f"{listing.relative_to(out)}")

    with j.step("listing: fill in the seller's text, check") as d:
        filled = fill_listing(listing, listing_text(ex))
        j.smkit("listing", "check", str(listing), "--against-package")
        d.append(f"{filled} TODOs filled, valid")

    changeset = listing_dir / "changeset.json"
    with j.step("listing render: the change set as JSON") as d:
        d.append(j.smkit("listing", "render", str(listing), "--out",
                         str(changeset)).strip().split(":", 1)[-1].strip())

    with j.step("listing publish --intent VALIDATE (dry run)") as d:
        j.smkit("listing", "publish", str(listing), "--intent", "VALIDATE", "--interval", "0.5")
        d.append("accepted")

    with j.step("listing publish --intent APPLY") as d:
        text = j.smkit("listing", "publish", str(listing), "--intent", "APPLY",
                       "--interval", "0.5")
        m = _PRODUCT_RE.search(text)
        if m is None:
            raise PlatformError(f"`smkit listing publish` printed no product: {text[-300:]}")
        d.append(f"product {m.group(1)}, offer {m.group(2)}")
    summary.facts["product"] = m.group(1)
    summary.facts["offer"] = m.group(2)

    preview = listing_dir / "preview.html"
    with j.step("listing preview: the buyer's page") as d:
        j.smkit("listing", "preview", str(listing), "--out", str(preview))
        d.append(str(preview.relative_to(out)))
    summary.paths.update({
        "listing": listing, "change set": changeset, "preview": preview,
        "sample notebook": listing_dir / "notebook" / "sample-notebook.ipynb",
    })


def _buy(j: Journey, ex: Example, summary: Summary, arn: str, port: str) -> None:
    """The buyer's transform from the ARN, checked against the seller's local transform."""
    out = j.out
    buyer_out = out / "buyer-transform"
    with j.step("buyer: batch transform from the model package ARN (local mode)") as d:
        local_mode(j, "buyer", "transform", "--model-package-arn", arn, "--input",
                "validation/input.csv", "--output", str(buyer_out), "--local",
                "--port", port)
        result = buyer_out / "input.csv.out"
        n = _count_lines(result)
        if n != ex.test_rows:
            raise PlatformError(f"{result} has {n} records for {ex.test_rows} inputs")
        d.append(f"{n} records")

    with j.step("check: buyer's output equals the seller's local transform") as d:
        local = out / "local-transform" / "input.csv.out"
        if result.read_bytes() != local.read_bytes():
            raise PlatformError(f"{result} differs from {local}")
        truth = [line.rsplit(",", 1)[1] for line in
                 ex.labeled.read_text(encoding="utf-8").splitlines() if line]
        predicted = result.read_text(encoding="utf-8").splitlines()
        right = sum(p == t for p, t in zip(predicted, truth, strict=True))
        d.append(f"identical; {right}/{len(truth)} correct")

    summary.paths["buyer transform"] = result


def _print(message: str, nl: bool = True) -> None:
    print(message, end="\n" if nl else "", flush=True)
