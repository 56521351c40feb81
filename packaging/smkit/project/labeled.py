"""What is said about labeled rows in the wrong place, wherever a command reads them.

Two mistakes, worded once: the held-out rows with their label given where the model's input
is wanted (one column too many), and a labeled file (for ``listing init --validation``)
whose label comes first instead of last.
"""

from __future__ import annotations

import re

#: The server's answer to a CSV row of the wrong width (``smkit_serve.codecs``).
_WIDTH_ANSWER = re.compile(r"expected (\d+) columns, got (\d+)")


def labeled_input(what: str) -> str:
    """The hint for input rows one column wider than the model takes: labeled rows."""
    return (f"It looks like labeled data: {what} takes the features only (input.csv); the "
            "labeled rows (label last) are for `smkit listing init --validation`")


def labeled_input_in(answer: str, what: str) -> str:
    """``labeled_input(what)`` when the server's ``answer`` refuses a row one column wider
    than the model takes, else ''."""
    found = _WIDTH_ANSWER.search(answer)
    if found is None or int(found.group(2)) != int(found.group(1)) + 1:
        return ""
    return labeled_input(what)


def label_first(name: str, evidence: str) -> str:
    """The cause and fix for a labeled file whose label is the first column, not the last."""
    return (f"{name}: the label is the first column, not the last ({evidence}): move it to "
            "the last column (the features come first, in training order)")
