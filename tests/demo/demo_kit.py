"""Helpers for the demo tests (importable as ``demo_kit``; no fixtures here)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class DemoRun:
    """A finished ``smkit demo --keep-emulators`` run."""

    out: Path
    stdout: str
    stderr: str
    seconds: float
    env: dict[str, str]

    def fact(self, name: str) -> str:
        """A value from the closing summary (``  name  value``)."""
        for line in self.stdout.splitlines():
            m = re.match(r"^  (\S.*?)\s{2,}(\S.*)$", line)
            if m and m.group(1) == name:
                return m.group(2).strip()
        raise AssertionError(f"no {name!r} in the summary:\n{self.stdout}")


def run_demo(out: Path, image: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``smkit demo --out OUT --keep-emulators`` as a user runs it."""
    env = {**os.environ, "SMKIT_IMAGE": image}
    return subprocess.run(
        [sys.executable, "-m", "smkit.cli", "demo", "--out", str(out), "--keep-emulators"],
        capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=REPO,
    )
