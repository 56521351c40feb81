"""The preview page, rendered by headless Chromium: what a buyer would read, and a screenshot."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from listing_kit import valid_data, write_listing
from smkit.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# `make test` installs Chromium first; only a bare pytest run outside CI may skip these.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no chromium: run `make browser` (scripts/ensure-chromium.sh)")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a fresh profile and no network."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}",
         "--host-resolver-rules=MAP * ~NOTFOUND",  # the logo URL must not leave the machine
         *args],
        capture_output=True, text=True, timeout=90, check=False,
    )


def _text(dom: str) -> str:
    """The page's visible text, roughly: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<style.*?</style>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def preview(tmp_path: Path) -> Path:
    """A preview of a listing whose title tries to inject markup."""
    data = valid_data()
    data["product"]["title"] = "Iris classifier <script>alert(1)</script>"
    data["product"]["highlights"].append("Fast & <b>small</b>")
    path = write_listing(tmp_path / "listing", data)
    out = tmp_path / "preview.html"
    assert main(["listing", "preview", str(path), "--out", str(out)]) == 0
    return out


def test_the_preview_shows_the_product_as_a_buyer_would_see_it(preview: Path,
                                                                tmp_path: Path) -> None:
    proc = chromium(tmp_path, "--dump-dom", preview.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    text = _text(dom)
    assert "Iris classifier <script>alert(1)</script>" in text  # shown as text ...
    assert "<script>" not in dom  # ... never as markup
    assert "<b>small</b>" not in dom
    assert "Fast & <b>small</b>" in text
    for expected in [
        "Tells the iris species from four flower measurements.",
        "Answers in milliseconds",
        "Explains nothing, predicts well",
        "A decision tree trained on the classic iris data.",
        "accuracy: 0.96 on 30 held-out rows",
        "Deploy, then invoke with text/csv.",
        "5.1,3.5,1.4,0.2 6.7,3.0,5.2,2.3",
        "Free trial: 14 days",
        "No refunds after 30 days.",
        "Standard contract for AWS Marketplace",
    ]:
        assert expected in text, expected
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(.*?)</td><td class=\"num\">(.*?)</td>",
                      dom)
    assert rows == [("ml.m5.large (recommended)", "$0.50", "$0.40"),
                    ("ml.c5.xlarge", "$0.80", "not supported")]
    assert re.search(r'<pre id="sample-output">0\s+2</pre>', dom)


def test_the_preview_screenshot_is_saved_with_the_test_output(preview: Path,
                                                              tmp_path: Path) -> None:
    shot = tmp_path / "preview.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600",
                    "--hide-scrollbars", preview.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page, not a blank one


def test_per_inference_pricing_is_shown_per_record_with_hourly_batch(tmp_path: Path) -> None:
    data = valid_data()
    data["delivery"]["metering"] = "per-inference"
    data["pricing"] = {"model": "per-inference", "per_inference": "0.0015",
                       "batch": {"ml.m5.large": "0.40"}}
    path = write_listing(tmp_path / "listing", data)
    out = tmp_path / "preview.html"
    assert main(["listing", "preview", str(path), "--out", str(out)]) == 0
    proc = chromium(tmp_path, "--dump-dom", out.as_uri())
    text = _text(proc.stdout)
    assert "Real-time inference: $0.0015 per inference (one record)" in text
    assert "Free trial" not in text
    assert "ml.c5.xlarge per inference not supported" in text
