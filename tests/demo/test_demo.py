"""``smkit demo``: the whole offline journey runs, reports each step, and can be re-run
(by smkit installed from its wheel: the ``demo_run`` and ``wheel_venv`` fixtures)."""

from __future__ import annotations

import re

import pytest
from wheel_kit import DemoRun, Installed, run_demo

pytestmark = pytest.mark.container

STEP = re.compile(r"^\[\s*(\d+)/(\d+)\] (.+) \.\.\. (.*) \((\d+\.\d) s\)$")


def test_the_demo_runs_every_step_with_its_timing(demo_run: DemoRun) -> None:
    steps = [STEP.match(line) for line in demo_run.stdout.splitlines()]
    steps = [m for m in steps if m]
    assert len(steps) == int(steps[0].group(2)) == 19, demo_run.stdout
    assert [int(m.group(1)) for m in steps] == list(range(1, 20))
    titles = " | ".join(m.group(3) for m in steps)
    for needed in ("train", "product image", "local endpoint", "local batch transform",
                   "emulators", "package", "push", "preflight", "publish", "VALIDATE",
                   "APPLY", "preview", "buyer"):
        assert needed in titles
    assert "smkit demo: done in" in demo_run.stdout


def test_the_demo_makes_what_the_summary_lists(demo_run: DemoRun) -> None:
    out = demo_run.out
    assert demo_run.fact("model package").startswith("arn:aws:sagemaker:us-east-1:")
    assert re.fullmatch(r".*\.dkr\.ecr\.us-east-1\.amazonaws\.com/smkit-demo-wine@sha256:"
                        r"[0-9a-f]{64}", demo_run.fact("image"))
    assert demo_run.fact("product").startswith("prod-")
    for name in ("model", "local transform", "spec", "artifact", "listing", "change set",
                 "preview", "sample notebook", "buyer transform"):
        path = demo_run.fact(name)
        assert path.startswith(str(out)), (name, path)
        assert (out / path[len(str(out)) + 1:]).is_file(), (name, path)
    preview = (out / "listing" / "preview.html").read_text()
    assert "Wine cultivar classifier" in preview
    assert "TODO" not in (out / "listing" / "listing.yaml").read_text()
    # The local transform and the buyer's transform from the ARN agree, record for record.
    local = (out / "local-transform" / "input.csv.out").read_text().splitlines()
    bought = (out / "buyer-transform" / "input.csv.out").read_text().splitlines()
    assert local == bought
    assert len(local) == len((out / "validation" / "input.csv").read_text().splitlines())
    assert set(local) <= {"cultivar_1", "cultivar_2", "cultivar_3"}


def test_every_prediction_of_the_journey_is_the_trained_models_own(demo_run: DemoRun) -> None:
    """Compared with the model itself, not only with another smkit output: a bug shared by
    smkit's paths cannot pass."""
    import joblib
    import pandas as pd

    out = demo_run.out
    model = joblib.load(out / "model" / "model.joblib")
    frame = pd.read_csv(out / "validation" / "input.csv", header=None)
    frame.columns = list(model.feature_names_in_)
    expected = [str(v) for v in model.predict(frame)]
    for produced in ("local-transform", "buyer-transform"):
        got = (out / produced / "input.csv.out").read_text().splitlines()
        assert got == expected, produced
    # The product image was built for this model's own environment.
    assert demo_run.fact("inference image").startswith("smkit-product:")


def test_a_second_run_converges_on_the_same_package_and_product(
        demo_run: DemoRun, wheel_venv: Installed, image: str) -> None:
    again = run_demo(wheel_venv, image)
    assert again.returncode == 0, f"stdout:\n{again.stdout}\nstderr:\n{again.stderr}"
    second = DemoRun(demo_run.out, again.stdout, again.stderr, 0.0, demo_run.env)
    assert "reused" in again.stdout
    assert second.fact("model package") == demo_run.fact("model package")
    assert second.fact("image") == demo_run.fact("image")
    assert second.fact("product") == demo_run.fact("product")
