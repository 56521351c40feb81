"""Preflight's last line: ready only when every check ran and passed, else what is left to do."""

from __future__ import annotations

from smkit.aws.roles import FAIL, PASS, SKIP
from smkit.preflight.checks import Check, Report

NOT_PUSHED = Check("image pushed by digest", SKIP,
                   "no pushed image given (--image-uri or image.uri); run smkit push")


def _verdict(report: Report) -> str:
    return report.render().splitlines()[-1]


def test_every_check_passed_is_ready_to_submit() -> None:
    report = Report([Check("spec", PASS, "ok"), Check("image pushed by digest", PASS, "ok")])
    assert _verdict(report) == "preflight: ready to submit"


def test_an_image_not_yet_pushed_says_push_first_not_ready() -> None:
    report = Report([Check("spec", PASS, "ok"), NOT_PUSHED])
    verdict = _verdict(report)
    assert "ready to submit" not in verdict
    assert verdict.startswith("preflight: not ready yet, image pushed by digest skipped: ")
    assert "push first" in verdict
    assert "--image-uri" in verdict
    assert verdict.endswith("then run preflight again")


def test_another_skip_says_what_its_own_line_says() -> None:
    skipped = Check("role ARNs", SKIP, "no AWS credentials or emulator: roles not checked")
    verdict = _verdict(Report([skipped]))
    assert "role ARNs: no AWS credentials or emulator: roles not checked" in verdict
    assert "ready to submit" not in verdict


def test_a_failure_outranks_a_skip() -> None:
    report = Report([Check("spec", FAIL, "bad"), NOT_PUSHED])
    assert _verdict(report) == "preflight: 1 check(s) failed"
