"""Every change set the demo makes passes the second oracle (``catalog_oracle``, from AWS's
published schemas): the one ``listing render`` wrote into the demo's output, and each one the
demo published to its Catalog emulator, judged there against the emulator's own verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from catalog_oracle import Checked, failures, oracle, verdict
from wheel_kit import DemoRun

pytestmark = pytest.mark.container


def test_the_change_set_the_demo_rendered_passes_the_oracle(demo_run: DemoRun) -> None:
    path = demo_run.out / "listing" / "changeset.json"
    assert Path(demo_run.fact("change set")).resolve() == path.resolve()
    found = oracle(json.loads(path.read_text(encoding="utf-8")))
    assert found == [], (f"{path}: smkit: `listing render` wrote it to be sent; "
                         f"oracle (AWS's published schemas): {verdict(found)}")


def test_every_change_set_the_demo_published_passes_the_oracle_as_the_emulator_does(
        demo_run: DemoRun, demo_change_sets: list[Checked]) -> None:
    assert failures(demo_change_sets) == []
    intents = {c.request["Intent"] for c in demo_change_sets if c.status == "SUCCEEDED"}
    assert intents >= {"VALIDATE", "APPLY"}, [c.describe() for c in demo_change_sets]
    rendered = json.loads((demo_run.out / "listing" / "changeset.json").read_text())
    if rendered["ChangeSet"][0]["ChangeType"] == "CreateProduct":  # the first run's render
        # What the demo published (its dry run) is what it rendered.
        assert any(c.request["Intent"] == "VALIDATE"
                   and c.request["ChangeSet"] == rendered["ChangeSet"]
                   for c in demo_change_sets), [c.describe() for c in demo_change_sets]
