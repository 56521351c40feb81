"""Every change set the demo makes passes the second oracle (``catalog_oracle``, from AWS's
published schemas): the one ``listing render`` wrote into the demo's output, and each one the
demo published to its Catalog emulator, judged there against the emulator's own verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    # What the demo's dry run published is what it rendered. Rendered again over an existing
    # product, the version is written as AddDeliveryOptions where publish, which looks the
    # version up, sends UpdateDeliveryOptions: the other changes are the same.
    rendered = json.loads((demo_run.out / "listing" / "changeset.json").read_text())["ChangeSet"]
    first_run = rendered[0]["ChangeType"] == "CreateProduct"
    dry_runs = [c.request["ChangeSet"] for c in demo_change_sets
                if c.request["Intent"] == "VALIDATE"]
    assert any(published == rendered if first_run
               else _without_delivery(published) == _without_delivery(rendered)
               for published in dry_runs), (rendered, dry_runs)


def _without_delivery(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in changes
            if c["ChangeType"] not in ("AddDeliveryOptions", "UpdateDeliveryOptions")]
