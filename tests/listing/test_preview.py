"""The preview page, rendered by headless Chromium (driven by Playwright): what a buyer reads,
how it is laid out on a desktop (1280 px) and a phone (390 px), and a screenshot of each.

The page is opened offline: every host name resolves to nothing, so the logo URL never loads.
"""

from __future__ import annotations

import html
import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from listing_kit import PACKAGE_ARN, valid_data, write_listing
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from smkit.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# `make test` installs Chromium first; only a bare pytest run outside CI may skip these.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="no chromium: run `make browser` (scripts/ensure-chromium.sh)")

DESKTOP, PHONE = 1280, 390
SECTIONS = ["hero", "title", "logo", "overview", "usage", "usage-instructions", "sample-input",
            "sample-output", "support", "pricing", "pricing-table"]

# What the starter writes (smkit.listing.starter), with a product ARN and JSON: commands with
# hyphens and slashes, and tokens wider than a phone.
USAGE = "\n".join([
    "1. Subscribe to the product, then create a model from its model package and deploy an "
    "endpoint (real-time) or start a batch transform job.",
    f"   aws sagemaker create-model --model-name iris --primary-container "
    f"ModelPackageName={PACKAGE_ARN} --enable-network-isolation",
    "2. Invoke the endpoint with the sample input:",
    "   aws sagemaker-runtime invoke-endpoint --endpoint-name <your-endpoint> \\",
    "     --content-type text/csv --accept text/csv \\",
    "     --body fileb://input.csv output.csv",
    "3. Batch transform over an S3 prefix:",
    "   aws sagemaker create-transform-job --transform-job-name <job> \\",
    "     --transform-input '{\"DataSource\":{\"S3DataSource\":{\"S3DataType\":\"S3Prefix\","
    "\"S3Uri\":\"s3://<bucket>/<input-prefix>/\"}},\"ContentType\":\"text/csv\"}' \\",
    "     --transform-resources InstanceType=<instance-type>,InstanceCount=2",
])
WIDE_SAMPLE = '{"instances": [' + ", ".join(f'{{"features": [5.1, 3.5, 1.4, {i}]}}'
                                            for i in range(12)) + "]}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with no network."""
    assert CHROMIUM is not None
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND"])  # nothing leaves the machine
        yield b
        b.close()


Opener = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Opener]:
    """``open_page(path, width, logo=None)``: ``path`` loaded in a fresh context ``width`` px
    wide; ``logo`` (SVG bytes) answers the listing's logo URL. Contexts close after the test."""
    contexts: list[BrowserContext] = []

    def opener(path: Path, width: int, *, logo: bytes | None = None) -> Page:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        if logo is not None:
            context.route(valid_data()["product"]["logo_url"], lambda route: route.fulfill(
                status=200, content_type="image/svg+xml", body=logo))
        page = context.new_page()
        page.goto(path.as_uri(), wait_until="load")  # after the logo loaded or failed
        return page

    yield opener
    for context in contexts:
        context.close()


def render(tmp_path: Path, data: dict[str, Any], sample_input: str | None = None) -> Path:
    """``listing preview`` of ``data`` (and of ``sample_input``, when given)."""
    path = write_listing(tmp_path / "listing", data)
    if sample_input is not None:
        (path.parent / "samples" / "input.csv").write_text(sample_input)
    out = tmp_path / "preview.html"
    assert main(["listing", "preview", str(path), "--out", str(out)]) == 0
    return out


def _text(dom: str) -> str:
    """The page's text, roughly: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<style.*?</style>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


@pytest.fixture
def preview(tmp_path: Path) -> Path:
    """A preview of a listing whose title, a highlight and the usage text try to inject markup."""
    data = valid_data()
    data["product"]["title"] = "Iris classifier <script>alert(1)</script>"
    data["product"]["highlights"].append("Fast & <b>small</b>")
    data["delivery"]["usage_instructions"] += "\n  echo '<b>ok</b>' && curl -s a.b/c?d=1"
    return render(tmp_path, data)


@pytest.fixture
def wide(tmp_path: Path) -> Path:
    """A preview full of long commands and unbreakable tokens (an ARN, JSON, a long URL)."""
    data = valid_data()
    data["product"]["long_description"] = (
        "A decision tree trained on the classic iris data.\n\n"
        f"Its model package is {PACKAGE_ARN}/version/1 in every region it is sold in.")
    data["delivery"]["usage_instructions"] = USAGE
    data["delivery"]["input"]["custom_attributes"] = [
        {"name": "output", "description": "What to answer with.",
         "constraints": '{"enum":["class","probabilities","class_and_probabilities"]}'},
        {"name": "trace", "description": "Echo the request id."}]
    data["delivery"]["input"]["parameters"] = [
        {"name": "sepal_length", "description": "Sepal length in cm.", "constraints": "0 to 10",
         "required": True},
        {"name": "petal_width", "description": "Petal width in cm."}]
    data["delivery"]["output"]["parameters"] = [
        {"name": "predicted_label", "description": "The iris species, 0, 1 or 2."},
        {"name": "probabilities", "description": "One per class.", "always_returned": False}]
    data["support"]["description"] = (
        "Open an issue at https://github.com/example/iris-classifier/issues/new?template="
        "bug_report.md&labels=support,marketplace,needs-triage or email support@example.com.")
    data["delivery"]["supported_instance_types"]["realtime"] += ["ml.g4dn.12xlarge"]
    data["pricing"]["realtime"]["ml.g4dn.12xlarge"] = "12.345"
    return render(tmp_path, data, sample_input=WIDE_SAMPLE)


def test_the_preview_shows_the_product_as_a_buyer_would_see_it(preview: Path,
                                                                open_page: Opener) -> None:
    page = open_page(preview, DESKTOP)
    dom = page.content()
    text = _text(dom)
    assert "Iris classifier <script>alert(1)</script>" in text  # shown as text ...
    assert "<script>" not in dom  # ... never as markup
    assert "<b>small</b>" not in dom
    assert "Fast & <b>small</b>" in text
    assert "<b>ok</b>" not in dom  # the usage text, each word in a span, is escaped too
    assert "echo '<b>ok</b>' && curl -s a.b/c?d=1" in text
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
        "First release.",
    ]:
        assert expected in text, expected
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">(.*?)</td><td class=\"num\">(.*?)</td>",
                      dom)
    assert rows == [("ml.m5.large (recommended)", "$0.50", "$0.40"),
                    ("ml.c5.xlarge", "$0.80", "not supported")]
    assert re.search(r'<pre id="sample-output">0\s+2</pre>', dom)


def test_the_page_claims_no_seller_it_does_not_know(preview: Path, open_page: Opener) -> None:
    # listing.yaml names no seller; AWS shows the seller profile's name, which smkit never sees.
    page = open_page(preview, DESKTOP)
    assert not re.search(r"\b(sold|offered|provided) by\b", page.inner_text("body"), re.I)
    # The hero holds the listing's title and short description, and nothing made up.
    hero = [line.strip() for line in page.inner_text("#hero").splitlines() if line.strip()]
    assert hero == ["I", "Iris classifier <script>alert(1)</script>",
                    "Tells the iris species from four flower measurements.",
                    "View purchase options"], hero


def test_a_field_left_out_shows_nothing(wide: Path, open_page: Opener) -> None:
    # The second custom attribute has no constraints: its cell is empty, not "None".
    page = open_page(wide, DESKTOP)
    cells = page.locator("#custom-attributes td")
    assert cells.all_inner_texts()[-3:] == ["trace", "Echo the request id.", ""]
    # A parameter's left-out constraints and required flag, as AWS's page shows them.
    assert page.locator("#input-parameters td").all_inner_texts() == [
        "sepal_length", "Sepal length in cm.", "0 to 10", "Yes",
        "petal_width", "Petal width in cm.", "", "No"]
    assert page.locator("#output-parameters td").all_inner_texts() == [
        "predicted_label", "The iris species, 0, 1 or 2.", "Yes",
        "probabilities", "One per class.", "No"]


def test_no_parameter_tables_when_the_listing_describes_none(preview: Path,
                                                              open_page: Opener) -> None:
    page = open_page(preview, DESKTOP)
    assert page.locator("#input-parameters, #output-parameters").count() == 0
    assert "data descriptions" not in page.inner_text("body")


# ----------------------------------------------------------------------------- no repeats

# A fragment ends at . ! ? ; or : followed by a space or a line end.
_CLAUSE_END = re.compile(r"(?<=[.!?;:])\s+")


def fragments(text: str) -> list[str]:
    """The page's sentences and clauses of three words or more, list bullets dropped."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+\.)\s+", "", line)
        for frag in _CLAUSE_END.split(line):
            frag = re.sub(r"\s+", " ", frag).strip().rstrip(".!?;:,").strip()
            if len(frag.split()) >= 3:
                out.append(frag)
    return out


def repeats(text: str) -> list[tuple[str, str]]:
    """Pairs of fragments where the first occurs again, whole or inside the second."""
    frags = fragments(text)
    found = []
    for i, a in enumerate(frags):
        inside = re.compile(rf"(?<!\w){re.escape(a)}(?!\w)", re.I)
        for j, b in enumerate(frags):
            if i != j and inside.search(b) and (len(a) < len(b) or i < j):
                found.append((a, b))
    return found


def test_repeats_finds_a_fact_said_twice() -> None:
    page = "Model facts\n- Limitations: Only three species.\nLimitations\nOnly three species."
    assert repeats(page) == [("Only three species", "Only three species")]
    assert repeats("Training data: UCI iris (150 rows)\nUCI iris (150 rows)") == [
        ("UCI iris (150 rows)", "UCI iris (150 rows)")]
    assert repeats("Latency on ml.m5.large: 3.2 ms median, 5.1 ms p95 (one record)\n"
                   "3.2 ms median, 5.1 ms p95") == [
        ("3.2 ms median, 5.1 ms p95", "3.2 ms median, 5.1 ms p95 (one record)")]
    assert repeats("Input MIME type\ntext/csv\nOutput MIME type\ntext/csv") == []


@pytest.mark.parametrize("which", ["preview", "wide"])
def test_no_sentence_appears_twice_on_the_page(which: str, request: pytest.FixtureRequest,
                                               open_page: Opener) -> None:
    page = open_page(request.getfixturevalue(which), DESKTOP)
    # Code may repeat a command (one call plain, one with an option): compare the code blocks
    # whole, and the sentences of everything else. Column headings are labels that tables
    # share ("Description"), as on AWS's page: not sentences.
    code = page.locator("pre").all_inner_texts()
    assert len(set(code)) == len(code) == 3, code  # usage, sample input, sample output
    page.add_style_tag(content="pre, th { display: none !important; }")
    text = page.inner_text("body")
    assert fragments(text), text
    assert repeats(text) == [], text


# ----------------------------------------------------------------------------- layout

MEASURE = """() => {
  const vw = document.documentElement.clientWidth;
  const box = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top + scrollY, bottom: r.bottom + scrollY,
            width: r.width, height: r.height}; };
  const shown = (el) => { const s = getComputedStyle(el);
    return s.display !== 'none' && s.visibility === 'visible' && Number(s.opacity) > 0; };
  const sections = {};
  for (const id of ARGS) { const el = document.getElementById(id);
    sections[id] = el ? {...box(el), shown: shown(el)} : null; }
  // Code breaks only at spaces: each run of non-spaces sits on one line. Table cells may
  // also break after a hyphen, slash or comma, never inside a run of letters and digits.
  const broken = [];
  const kinds = [['pre, code', /\\S+/g], ['th, td', /[\\p{L}\\p{N}_.]+/gu]];
  for (const [selector, word] of kinds) {
    for (const el of document.querySelectorAll(selector)) {
      const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        for (const m of n.data.matchAll(word)) {
          const r = document.createRange();
          r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
          const tops = new Set([...r.getClientRects()].filter((q) => q.width > 0)
                                                      .map((q) => Math.round(q.top)));
          if (tops.size > 1) broken.push(m[0]);
        }
      }
    }
  }
  const blocks = [...document.querySelectorAll('pre, code')].map((el) => {
    const s = getComputedStyle(el);
    return {id: el.id, ...box(el), scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
            overflowX: s.overflowX, whiteSpace: s.whiteSpace, wordBreak: s.wordBreak,
            overflowWrap: s.overflowWrap};
  });
  const scrollers = [...document.querySelectorAll('table')].map((t) => {
    const p = t.parentElement, s = getComputedStyle(p);
    return {table: box(t), parent: box(p), overflowX: s.overflowX,
            fits: p.scrollWidth <= p.clientWidth};
  });
  const logo = document.getElementById('logo');
  const initial = logo.querySelector('.initial');
  return {
    viewport: vw, scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth, sections, blocks, broken, scrollers,
    logo: {...box(logo), initial: initial ? initial.textContent : null,
           initialShown: initial ? shown(initial) && box(initial).width > 0 : false},
    images: [...document.images].map((i) => ({src: i.currentSrc, complete: i.complete,
              naturalWidth: i.naturalWidth, ...box(i)})),
  };
}"""


def measure(page: Page) -> dict[str, Any]:
    """Boxes, overflow and code-block facts measured in the page (CSS px, document coords)."""
    result: dict[str, Any] = page.evaluate(MEASURE.replace("ARGS", repr(SECTIONS)))
    return result


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_the_page_fits_the_window_and_shows_every_section(wide: Path, open_page: Opener,
                                                          tmp_path: Path, width: int) -> None:
    page = open_page(wide, width)
    shot = tmp_path / f"preview-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a rendered page, not a blank one
    m = measure(page)
    vw = m["viewport"]
    assert vw == width
    # Nothing pushes the page wider than the window.
    assert m["scrollWidth"] <= vw, m
    assert m["bodyScrollWidth"] <= vw, m
    for name, box in m["sections"].items():
        assert box is not None, f"#{name} missing"
        assert box["shown"], (name, box)
        assert min(box["width"], box["height"]) > 0, (name, box)
        assert 0 <= box["left"] < box["right"] <= vw + 0.5, (name, box)
    # Code blocks: no word broken across lines, and wider content scrolls inside its box.
    assert m["broken"] == [], m["broken"]
    assert {b["id"] for b in m["blocks"]} >= {"usage-instructions", "sample-input",
                                               "sample-output"}
    for b in m["blocks"]:
        assert b["wordBreak"] != "break-all", b
        assert b["overflowWrap"] == "normal", b
        assert b["right"] <= vw + 0.5, b
        assert b["scrollWidth"] <= b["clientWidth"] or b["overflowX"] in ("auto", "scroll"), b
    # Tables fit their section or scroll inside it.
    assert len(m["scrollers"]) == 4  # input and output parameters, custom attributes, pricing
    for t in m["scrollers"]:
        assert t["parent"]["right"] <= vw + 0.5, t
        assert t["fits"] or t["overflowX"] in ("auto", "scroll"), t
    s = m["sections"]
    if width == DESKTOP:  # two columns: the pricing beside the overview
        assert s["pricing"]["left"] >= s["overview"]["right"], s
        assert s["pricing"]["top"] < s["overview"]["bottom"], s
        assert s["overview"]["width"] > s["pricing"]["width"], s
        assert s["title"]["left"] >= s["logo"]["right"], s  # the title beside the logo
    else:  # one column: every section full width, one below the other
        order = ["overview", "usage", "support", "pricing"]
        for upper, lower in itertools.pairwise(order):
            assert s[lower]["top"] >= s[upper]["bottom"], (upper, lower, s)
        for name in order:
            assert s[name]["width"] >= vw - 40, (name, s[name])


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_an_unreachable_logo_leaves_a_neutral_box(preview: Path, open_page: Opener,
                                                  tmp_path: Path, width: int) -> None:
    page = open_page(preview, width)
    page.locator("#logo").screenshot(path=str(tmp_path / f"logo-{width}.png"))
    m = measure(page)
    logo = m["logo"]
    assert min(logo["width"], logo["height"]) >= 64, logo
    assert logo["initial"] == "I", logo  # the title's initial ...
    assert logo["initialShown"], logo  # ... shown
    broken = [i for i in m["images"] if i["complete"] and i["naturalWidth"] == 0]
    assert broken == [], broken  # no broken-image icon


def test_a_logo_that_loads_fills_the_box(preview: Path, open_page: Opener) -> None:
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
           b'<rect width="64" height="64" fill="#ff9900"/></svg>')
    page = open_page(preview, DESKTOP, logo=svg)
    m = measure(page)
    [img] = m["images"]
    assert img["complete"], img
    assert img["naturalWidth"] == 64, img
    assert (img["width"], img["height"]) == (m["logo"]["width"] - 2, m["logo"]["height"] - 2)


def test_per_inference_pricing_is_shown_per_record_with_hourly_batch(tmp_path: Path,
                                                                     open_page: Opener) -> None:
    data = valid_data()
    data["delivery"]["metering"] = "per-inference"
    data["pricing"] = {"model": "per-inference", "per_inference": "0.0015",
                       "batch": {"ml.m5.large": "0.40"}}
    text = _text(open_page(render(tmp_path, data), DESKTOP).content())
    assert "Real-time inference: $0.0015 per inference (one record)" in text
    assert "Free trial" not in text
    assert "ml.c5.xlarge per inference not supported" in text
