"""Batch transform splits lines as SageMaker does (issue 13, item 6): SplitType=Line cuts at
every newline, even one inside a quoted CSV cell; a JSON Lines record keeps its text's
newlines (escaped as \\n), which is why buyers with multi-line text should send JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path

from smkit.transform import records as rec


def test_a_quoted_newline_splits_a_csv_record_in_two_as_sagemaker_does(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(b'fire,Paris,"two\nlines"\nflood,,one line\n')
    got = [r.data for r in rec.iter_lines(path)]
    assert got == [b'fire,Paris,"two', b'lines"', b"flood,,one line"]


def test_json_lines_keep_multi_line_text_in_one_record(tmp_path: Path) -> None:
    texts = ["two\nlines", 'a "quoted", text', "one line"]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"keyword": None, "location": "Zürich", "text": t},
                                         ensure_ascii=False) for t in texts) + "\n",
                    encoding="utf-8")
    got = [json.loads(r.data)["text"] for r in rec.iter_lines(path)]
    assert got == texts
