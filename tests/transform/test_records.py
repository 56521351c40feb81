"""Splitting, packing, joins and assembly, without HTTP; and the parameter precedence rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smkit.core.errors import UserError
from smkit.project.transform_job import TransformConfig, input_files
from smkit.transform import records as rec
from smkit.transform.config import Resolved, resolve
from smkit_contract import limits

MB = 1024 * 1024


def _cfg(tmp_path: Path, **kw) -> TransformConfig:
    return TransformConfig(inputs=[tmp_path], output_dir=tmp_path / "out", **kw)


def _batches(path: Path, cfg: TransformConfig, params: Resolved) -> list:
    return list(rec.iter_batches(path, 0, cfg, params, rec.input_filter(cfg)))


# ----------------------------------------------------------------------------- precedence


def test_the_request_wins_over_the_container_which_wins_over_the_defaults(tmp_path):
    container = {"BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 20,
                 "MaxConcurrentTransforms": 3}
    got = resolve(_cfg(tmp_path, batch_strategy="MultiRecord"), container)
    assert (got.batch_strategy, got.max_payload_mb, got.max_concurrent_transforms) == (
        "MultiRecord", 20, 3)
    assert got.sources == ("request", "container", "container")
    assert resolve(_cfg(tmp_path), None) == Resolved("MultiRecord", 6, 1,
                                                     ("default", "default", "default"))


def test_concurrency_times_payload_is_kept_within_100(tmp_path):
    # The container's 8 x 50 = 400 > 100: the concurrency the request did not fix is lowered.
    got = resolve(_cfg(tmp_path, max_payload_mb=50), {"MaxConcurrentTransforms": 8})
    assert (got.max_payload_mb, got.max_concurrent_transforms) == (50, 2)
    got = resolve(_cfg(tmp_path, max_concurrent_transforms=4), {"MaxPayloadInMB": 100})
    assert (got.max_payload_mb, got.max_concurrent_transforms) == (25, 4)


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"max_payload_mb": 101}, "MaxPayloadInMB 101 must be 0 to 100"),
        ({"max_payload_mb": 30, "max_concurrent_transforms": 4}, "is over 100"),
        ({"split_type": "RecordIO"}, "RecordIO and TFRecord are not implemented"),
        ({"batch_strategy": "Multi"}, "MultiRecord or SingleRecord"),
        ({"input_filter": "$.features"}, "CSV records are arrays"),
        ({"input_filter": "$..x"}, "deep scan"),
        ({"content_type": "application/x-npy", "join_source": "Input"}, "need ContentType"),
    ],
)
def test_invalid_parameters_are_refused_naming_the_field(tmp_path, kw, fragment):
    with pytest.raises(UserError) as info:
        _cfg(tmp_path, **kw).validate()
    assert fragment in str(info.value)


# ----------------------------------------------------------------------------- splitting


def test_directories_give_every_file_sorted_with_subfolders_kept(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("z.csv", "a.csv", "b/c.csv", ".hidden"):
        (tmp_path / name).write_text("1\n")
    got = [(p.relative_to(tmp_path).as_posix(), o.as_posix())
           for p, o in input_files([tmp_path])]
    assert got == [("a.csv", "a.csv.out"), ("b/c.csv", "b/c.csv.out"), ("z.csv", "z.csv.out")]


def test_multirecord_packs_whole_records_up_to_the_payload_limit(tmp_path):
    # 10 records of 300,000 bytes (+1 newline): 3 fit in 1 MB (900,003 <= 1,048,576), 4 do not.
    path = tmp_path / "big.csv"
    path.write_bytes(b"".join(b"%d" % i + b"x" * (300_000 - len(b"%d" % i)) + b"\n"
                              for i in range(10)))
    cfg = _cfg(tmp_path)
    batches = _batches(path, cfg, Resolved("MultiRecord", 1, 1, ("",) * 3))
    *data, end = batches
    assert [(b.first_record, b.last_record) for b in data] == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert all(len(b.body) <= MB for b in data)
    assert b"".join(b.body for b in data) == path.read_bytes()
    assert isinstance(end, rec.FileEnd)
    assert end.records == 10


def test_singlerecord_sends_one_record_per_request_and_skips_blank_lines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\r\n\n3,4\n   \n5,6")
    *data, _ = _batches(path, _cfg(tmp_path), Resolved("SingleRecord", 6, 1, ("",) * 3))
    assert [b.body for b in data] == [b"1,2\n", b"3,4\n", b"5,6\n"]
    assert [(b.first_record, b.first_line) for b in data] == [(1, 1), (2, 3), (3, 5)]


def test_a_record_over_the_limit_becomes_a_failed_batch_with_its_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1\n" + b"9" * (MB + 5) + b"\n2\n")
    *data, _ = _batches(path, _cfg(tmp_path), Resolved("MultiRecord", 1, 1, ("",) * 3))
    assert [(b.first_line, b.error is None) for b in data] == [(1, True), (2, False), (3, True)]
    assert "over MaxPayloadInMB=1" in data[1].error


def test_splittype_none_sends_the_whole_file_and_refuses_one_over_the_limit(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\n3,4\n")
    cfg = _cfg(tmp_path, split_type="None")
    (whole, end) = _batches(path, cfg, Resolved("MultiRecord", 6, 1, ("",) * 3))
    assert whole.body == path.read_bytes()
    assert whole.whole_file
    assert end.records == 1
    big = tmp_path / "big.csv"
    big.write_bytes(b"1\n" * (MB // 2 + 1))
    (whole, _) = _batches(big, cfg, Resolved("MultiRecord", 1, 1, ("",) * 3))
    assert "use SplitType=Line" in whole.error


def test_payload_zero_streams_the_body_from_the_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"1,2\n3,4\n5,6\n")
    params = Resolved("MultiRecord", 0, 1, ("",) * 3)
    (batch, _) = _batches(path, _cfg(tmp_path), params)
    assert batch.body is None
    assert b"".join(batch.stream(None, lines=True)) == path.read_bytes()
    (whole, _) = _batches(path, _cfg(tmp_path, split_type="None"), params)
    assert b"".join(whole.stream(None, lines=False)) == path.read_bytes()


def test_the_input_filter_is_applied_before_packing(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'id1,5.1,"3,5"\nid2,6.0,1\n')
    cfg = _cfg(tmp_path, input_filter="$[1:]")
    (batch, _) = _batches(path, cfg, Resolved("MultiRecord", 6, 1, ("",) * 3))
    assert batch.body == b'5.1,"3,5"\n6.0,1\n'
    assert rec.batch_inputs(batch, cfg) == [b'id1,5.1,"3,5"', b"id2,6.0,1"]


# ----------------------------------------------------------------------------- outputs


def test_csv_join_appends_the_output_then_the_output_filter_picks_columns(tmp_path):
    cfg = _cfg(tmp_path, join_source="Input", output_filter="$[0,-1]")
    got = rec.shape_outputs(cfg, [b"id1,5.1,3.5", b"id2,1,2"], [b"0", b"2"], "text/csv")
    assert got == [b"id1,0", b"id2,2"]
    cfg = _cfg(tmp_path, join_source="Input")
    got = rec.shape_outputs(cfg, [b"id1,5.1"], [b"0.1,0.9"], "text/csv")
    assert got == [b"id1,5.1,0.1,0.9"]


def test_json_join_adds_sagemakeroutput_or_wraps_a_non_object_input(tmp_path):
    cfg = _cfg(tmp_path, content_type="application/jsonlines", join_source="Input")
    got = rec.shape_outputs(cfg, [b'{"id":1,"features":[1,2]}', b"[3,4]"], [b"0", b"[0.5,0.5]"],
                            "application/jsonlines")
    assert [json.loads(g) for g in got] == [
        {"id": 1, "features": [1, 2], "SageMakerOutput": 0},
        {"SageMakerInput": [3, 4], "SageMakerOutput": [0.5, 0.5]},
    ]
    cfg = cfg.replace(output_filter="$['id','SageMakerOutput']")
    got = rec.shape_outputs(cfg, [b'{"id":1,"features":[1,2]}'], [b"2"], "text/csv")
    assert got == [b'{"id":1,"SageMakerOutput":2}']


def test_output_records_are_split_by_line_or_from_a_json_document():
    assert rec.split_outputs(b"0\n1\n2", "text/csv", 3) == [b"0", b"1", b"2"]
    assert rec.split_outputs(b'{"predictions":[1,2]}', "application/json", 2) == [b"1", b"2"]
    with pytest.raises(rec.OutputMismatch, match="returned 2 output records for 3"):
        rec.split_outputs(b"0\n1", "text/csv", 3)


def test_assemble_line_ends_every_response_with_a_newline_and_none_concatenates():
    assert rec.assemble(b"0\n1", "Line") == b"0\n1\n"
    assert rec.assemble([b"0", b"1"], "Line") == b"0\n1\n"
    assert rec.assemble(b"0\n1", "None") == b"0\n1"


def test_the_placeholder_follows_the_output_format(tmp_path):
    assert rec.placeholder(_cfg(tmp_path), 400, "bad") == b"ERROR"
    got = rec.placeholder(_cfg(tmp_path, accept="application/jsonlines"), 400, "bad")
    assert json.loads(got) == {"SageMakerError": {"status": 400, "message": "bad"}}
    assert rec.placeholder(_cfg(tmp_path, placeholder="NA"), 400, "bad") == b"NA"


def test_progress_prints_a_line_on_stderr_when_asked(capsys):
    from smkit.transform.runner import _Progress

    progress = _Progress(total_bytes=4 * MB, enabled=True)
    progress.advance(MB, 1000)
    progress.close()
    assert "transform: 25% of 4.0 MB, 1000 records" in capsys.readouterr().err
    quiet = _Progress(total_bytes=MB, enabled=False)
    quiet.advance(MB, 10)
    assert capsys.readouterr().err == ""


def test_a_malformed_csv_record_under_an_input_filter_fails_only_that_record(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b'1,2,3\n1,"2,3\n4,5,6\n')
    cfg = _cfg(tmp_path, input_filter="$[1:]")
    *data, _ = _batches(path, cfg, Resolved("MultiRecord", 6, 1, ("",) * 3))
    assert [(b.first_line, b.error is None) for b in data] == [(1, True), (2, False), (3, True)]
    assert "malformed CSV record" in data[1].error


# ----------------------------------------------------------------------------- bulk packing

_RECORDS = st.one_of(
    st.text(alphabet="0123456789.,-", min_size=1, max_size=12),  # plain records
    st.sampled_from(["", " ", "\t", "\x0b", " 1,2", "\r", "a\rb"]),  # blank, odd leads, CR
    st.text(alphabet="0123456789,", min_size=17, max_size=40),  # over the tiny limit
)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(_RECORDS, max_size=40), crlf=st.booleans(), final_newline=st.booleans(),
       payload=st.integers(1, 4))
def test_bulk_packing_gives_the_same_batches_as_packing_record_by_record(
        tmp_path_factory, lines, crlf, final_newline, payload):
    path = tmp_path_factory.mktemp("bulk") / "in.csv"
    text = ("\r\n" if crlf else "\n").join(lines) + ("\n" if final_newline and lines else "")
    path.write_bytes(text.encode())
    cfg = TransformConfig(inputs=[path], output_dir=path.parent / "out",
                          content_type="text/csv", split_type="Line")
    params = Resolved("MultiRecord", payload, 1, ("request", "request", "request"))
    with pytest.MonkeyPatch.context() as mp:
        # MaxPayloadInMB=1 means 16 bytes here, so batches fill up within a few records.
        mp.setattr(limits, "MB", 16)
        bulk = list(rec.iter_batches(path, 0, cfg, params, None, bulk=True))
        by_record = list(rec.iter_batches(path, 0, cfg, params, None, bulk=False))
    assert bulk == by_record


def test_plain_lines_are_packed_without_touching_each_record(tmp_path, monkeypatch):
    path = tmp_path / "in.csv"
    path.write_bytes(b"".join(b"%d,%d.5\n" % (i, i) for i in range(300_000)))
    cfg = _cfg(tmp_path, content_type="text/csv", split_type="Line")
    params = Resolved("MultiRecord", 1, 1, ("request", "request", "request"))
    calls = []
    by_record = rec._Packer.add

    def counted(self, line):
        calls.append(line.number)
        return by_record(self, line)

    monkeypatch.setattr(rec._Packer, "add", counted)
    *batches, end = _batches(path, cfg, params)
    # Only the record that opens each new batch goes through the per-record path.
    assert len(batches) > 3
    assert len(calls) < len(batches)
    assert end.records == sum(b.records for b in batches) == 300_000
    assert b"".join(b.body for b in batches) == path.read_bytes()
    assert all(len(b.body) <= MB for b in batches)
