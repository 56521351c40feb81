"""Every sentence ``listing init`` generates, checked against the product's facts.

Three products, as a seller would declare them: a CSV-only regressor, a JSON-only classifier
with a text column, and a classifier that takes all four content types. The facts are what
the model package declares (content types) and what the manifest holds (signature, task); the
figures are a measurement's. Nothing here reads the wording back from the code under test:
each check is a rule a buyer would apply to the page.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from listing_kit import ROLE_ARN, fill_todos
from smkit.cli import main
from smkit.core.errors import UserError
from smkit.listing import samples
from smkit.listing.measure import Accuracy, Measurements
from smkit.listing.model import Listing, long_description
from smkit.listing.starter import PackageFacts, _sample, build_starter

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/claims-triage"
CSV, JSON, JSONL, NPY = "text/csv", "application/json", "application/jsonlines", \
    "application/x-npy"
#: How a buyer recognises each format when a sentence names it.
NAMES = {CSV: ("text/csv", "CSV"), JSON: ("application/json",),
         JSONL: ("application/jsonlines", "JSON Lines"), NPY: ("application/x-npy", "NumPy")}
MEASURED = Measurements(latency_ms_p50=2.5, latency_ms_p95=4.0, throughput_per_s=850.0,
                        sample_output=b"", accuracy=Accuracy("accuracy", 0.91, 40),
                        metering=None, measured_at=datetime.date(2026, 12, 1),
                        batch_throughput_per_s=12_000.0)


def _columns(*kinds: str) -> dict[str, Any]:
    return {"columns": [{"name": f"c{i}", "kind": k, "optional": False}
                        for i, k in enumerate(kinds)], "frame": True}


PRODUCTS: dict[str, dict[str, Any]] = {
    # A regressor on numbers that declares CSV only.
    "csv-only": dict(types=[CSV], task="regression", sig=_columns("number", "integer"),
                     sample="1.5,3\n2.25,4\n"),
    # A classifier with a free-text column that declares JSON only: its CSV sample is
    # rewritten as JSON, with numbers as numbers.
    "json-only": dict(types=[JSON], task="classification", sig=_columns("string", "number"),
                      sample='"late, again",2.5\nfine,1\n'),
    # All four types; a text column, so the JSON Lines hint for newlines belongs here.
    "all-four": dict(types=[CSV, JSON, JSONL, NPY], task="classification",
                     sig=_columns("string", "number"), sample='"a ""quoted"" note",1\nok,2\n'),
}


def _starter(name: str, tmp_path: Path) -> tuple[dict[str, Any], bytes, str]:
    """The starter listing of a product, its sample body and its content type."""
    p = PRODUCTS[name]
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "sample_input.csv").write_text(p["sample"])
    manifest = {"model": {"type": "Pipeline", "task": p["task"], "classes": ["no", "yes"]},
                "signature": p["sig"]}
    facts = PackageFacts(arn=ARN, description="", realtime=["ml.m5.large"],
                         batch=["ml.c5.xlarge"], content_types=p["types"],
                         response_types=p["types"], environment={}, model_data_url=None,
                         certified=True)
    media = next(t for t in p["types"] if t != NPY)
    body = _sample(model_dir, manifest, None, p["task"], media)
    from smkit.aws.instances import run_as

    data = build_starter(facts, manifest, MEASURED, sample=body, sample_name="samples/input",
                         output_name="samples/output", content_type=media,
                         access_role_arn=ROLE_ARN, region="us-east-1",
                         run_as=run_as("ml.m5.large", 8, 64 << 30))
    return data, body, media


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.;])\s+|\n", text) if s.strip()]


def _named(sentence: str) -> set[str]:
    """The content types a sentence names."""
    found = set()
    for media, names in NAMES.items():
        for n in names:
            # "JSON" inside "JSON Lines" names JSON Lines only.
            if re.search(rf"(?<![\w/-]){re.escape(n)}(?![\w/-]| Lines)", sentence):
                found.add(media)
    return found


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_every_generated_sentence_names_only_the_declared_content_types(
        name: str, tmp_path: Path) -> None:
    data, _, _ = _starter(name, tmp_path)
    declared = set(PRODUCTS[name]["types"])
    delivery = data["delivery"]
    text = "\n".join([delivery["input"]["description"], delivery["output"]["description"]])
    named = set()
    for sentence in _sentences(text):
        named |= _named(sentence)
        assert _named(sentence) <= declared, (sentence, declared)
    assert named == declared  # and each declared type is described
    usage = delivery["usage_instructions"]
    sent = set(re.findall(r"--(?:content-type|accept) (\S+)", usage))
    sent |= set(re.findall(r"(?:ContentType|Accept)=([^,\"\s]+)", usage))
    assert sent, usage
    assert sent <= declared, sent


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_the_sample_and_the_usage_heredoc_are_in_the_declared_type(
        name: str, tmp_path: Path) -> None:
    data, body, media = _starter(name, tmp_path)
    rows: list[Any]
    if media == CSV:
        rows = list(csv.reader(io.StringIO(body.decode())))
    elif media == JSON:
        rows = json.loads(body)
        assert rows[0] == ["late, again", 2.5]  # a number stays a number
    else:
        rows = [json.loads(line) for line in body.decode().splitlines()]
    assert len(rows) == 2
    usage = data["delivery"]["usage_instructions"]
    heredoc = re.search(r"<<'(\w+)'\n(.*?)\n\1\n", usage, re.S)
    assert heredoc is not None
    assert heredoc.group(2).encode() == body


def test_no_sentence_of_the_overview_appears_twice_and_figures_say_where_and_when(
        tmp_path: Path) -> None:
    data, _, _ = _starter("all-four", tmp_path)
    listing = Listing.model_validate(fill_todos(data))
    page = "\n".join([long_description(listing), listing.delivery.input.description,
                      listing.delivery.output.description])
    sentences = _sentences(page)
    assert len(sentences) == len(set(sentences)), [s for s in sentences
                                                    if sentences.count(s) > 1]
    latency = next(line for line in page.splitlines() if "Latency" in line)
    # Where (the limits it ran under), by whom and when; and no other instance type's name.
    assert "limited to ml.m5.large's 2 vCPUs and 8 GiB" in latency
    assert "smkit listing init" in latency
    assert "2026-12-01" in latency
    assert set(re.findall(r"ml\.\w+\.\w+", latency)) == {"ml.m5.large"}
    assert "batch transform: 12,000 records/s per instance" in latency
    accuracy = next(line for line in page.splitlines() if line.startswith("- accuracy"))
    assert "40 held-out rows" in accuracy
    assert "2026-12-01" in accuracy


def test_the_batch_rate_is_measured_on_whole_sample_records_repeated(tmp_path: Path) -> None:
    # all-four's CSV sample quotes a cell with doubled quotes: a record is not a line.
    _, body, media = _starter("all-four", tmp_path)
    batch = samples.repeated(body, media, 5)
    assert batch.endswith(b"\n")
    given = list(csv.reader(io.StringIO(body.decode())))
    assert list(csv.reader(io.StringIO(batch.decode()))) == [given[i % 2] for i in range(5)]
    lines = samples.repeated(b'{"a": 1}\n\n{"a": 2}', JSONL, 3).decode().splitlines()
    assert [json.loads(ln) for ln in lines] == [{"a": 1}, {"a": 2}, {"a": 1}]
    with pytest.raises(UserError, match="not line-delimited"):
        samples.repeated(b"[[1, 2]]", JSON, 3)


def test_usage_commands_name_no_placeholder_and_no_file_the_buyer_lacks(
        tmp_path: Path) -> None:
    data, _, _ = _starter("csv-only", tmp_path)
    usage = data["delivery"]["usage_instructions"]
    assert not re.search(r"<[^<>'\s]+>", usage)  # no <your-endpoint>
    assert "samples/" not in usage
    written = set(re.findall(r"cat > (\S+)", usage))
    for line in usage.splitlines():
        if line.startswith("aws ") or line.startswith("  --"):
            for word in shlex.split(line.rstrip("\\")):
                if word.startswith("fileb://"):
                    assert word[len("fileb://"):] in written, word


def _check(tmp_path: Path, data: dict[str, Any]) -> tuple[int, str]:
    (tmp_path / "samples").mkdir(exist_ok=True)
    (tmp_path / "samples" / "input.csv").write_text("1.5,3")
    (tmp_path / "samples" / "output.csv").write_text("7.0")
    data["delivery"]["input"]["sample_file"] = "samples/input.csv"
    data["delivery"]["output"]["sample_file"] = "samples/output.csv"
    path = tmp_path / "listing.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return main(["listing", "check", str(path)]), ""


def test_listing_check_refuses_a_free_trial_the_seller_did_not_choose(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _, _ = _starter("csv-only", tmp_path)
    data = fill_todos(data)
    data["pricing"]["free_trial_days"] = "TODO: days of free trial (5 to 120), or null for none"
    assert _check(tmp_path, data)[0] == 2
    assert "pricing.free_trial_days: still holds the TODO placeholder" in capsys.readouterr().err
    data["pricing"]["free_trial_days"] = None  # the seller chose none
    assert _check(tmp_path, data)[0] == 0, capsys.readouterr().err


@pytest.mark.parametrize(("where", "value", "said"), [
    # A local file's name in a measured fact.
    (("accuracy", "dataset"), "300 held-out rows (labeled.csv)", "names the file 'labeled.csv'"),
    # A path on the seller's machine, anywhere.
    (("training_data", "source"), "claims export in /home/ana/data", "a path on your machine"),
])
def test_listing_check_refuses_the_sellers_own_files(
        where: tuple[str, str], value: str, said: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = fill_todos(_starter("csv-only", tmp_path)[0])
    data[where[0]][where[1]] = value
    assert _check(tmp_path, data)[0] == 2
    err = capsys.readouterr().err
    assert f"{'.'.join(where)}: " in err
    assert said in err, err
