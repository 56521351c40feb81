"""The mistakes a newcomer makes, as data: each must fail fast, with its cause and the fix.

Every case starts from a good project (an iris tree, its held-out rows, a valid spec for the
default image), breaks one thing, and runs one smkit command as a user would, in a
subprocess. Each must exit non-zero and print, as its first error line, the cause and the
fix. How long each took is printed (``-s``) and measured, not asserted; a command that waits
out one of its own timeouts (the 2-minute SDK wait, the 4-minute start-up limit) is stopped
at ``WAIT_LIMIT`` and fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

#: Longer than any mistake should take, shorter than the timeouts it must not wait out.
WAIT_LIMIT = 100
SUMMARY: list[tuple[str, float, int]] = []


def spec_data() -> dict[str, object]:
    """A valid spec for the project below (default image, no python section)."""
    return {
        "name": "iris-tree", "region": "us-east-1", "model_dir": "model",
        "s3": {"bucket": "my-bucket"},
        "instance_types": {"realtime": ["ml.m5.large"], "transform": ["ml.m5.large"]},
        "validation": {"role": "arn:aws:iam::123456789012:role/SageMakerExecution",
                       "input": "validation/input.csv"},
    }


@dataclass
class Project:
    """A newcomer's project folder."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    #: Variables of the test's own environment to remove.
    unset: list[str] = field(default_factory=list)

    def spec(self, **changes: object) -> None:
        """Rewrite smkit.yaml with ``changes`` (a value of None removes the key)."""
        data = spec_data()
        for key, value in changes.items():
            node = data
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})  # type: ignore[assignment]
            if value is None:
                node.pop(leaf, None)  # type: ignore[attr-defined]
            else:
                node[leaf] = value  # type: ignore[index]
        (self.root / "smkit.yaml").write_text(yaml.safe_dump(data))

    def write(self, rel: str, text: str | bytes) -> None:
        """Write a file of the project."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)


def _rows(X: np.ndarray, y: np.ndarray | None = None, label_first: bool = False) -> str:
    lines = []
    for i, row in enumerate(X):
        cells = [repr(float(v)) for v in row]
        if y is not None:
            cells = [str(y[i]), *cells] if label_first else [*cells, str(y[i])]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model file every project starts from, trained once."""
    X, y = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("trained") / "model.joblib"
    joblib.dump(DecisionTreeClassifier(random_state=0).fit(X, y), path)
    return path


@pytest.fixture
def project(tmp_path: Path, trained: Path) -> Project:
    """A good project: model, validation input and labeled rows, a valid spec."""
    X, y = load_iris(return_X_y=True)
    p = Project(tmp_path, env={"AWS_EC2_METADATA_DISABLED": "true"})
    p.write("model/model.joblib", trained.read_bytes())
    p.write("validation/input.csv", _rows(X[::10]))
    p.write("validation/labeled.csv", _rows(X[::10], y[::10]))
    p.spec()
    return p


def _old_sklearn_pickle(p: Project) -> None:
    import sklearn

    raw = (p.root / "model" / "model.joblib").read_bytes()
    current = sklearn.__version__.encode()
    old = b"1.0.0"[: len(current)].ljust(len(current), b"0")
    p.write("model/model.joblib", raw.replace(current, old))


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stale_emulators(p: Project) -> None:
    p.env.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}/",
                  "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})


def _no_credentials(p: Project) -> None:
    p.env.update({"AWS_SHARED_CREDENTIALS_FILE": str(p.root / "none"),
                  "AWS_CONFIG_FILE": str(p.root / "none"), "AWS_ACCESS_KEY_ID": "",
                  "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""})
    p.unset.append("AWS_PROFILE")


def _empty_profile(p: Project) -> None:
    p.env["AWS_PROFILE"] = ""


@dataclass(frozen=True)
class Mistake:
    """One thing a newcomer gets wrong: how to make it, the command, what it must say."""

    name: str
    make: Callable[[Project], None]
    command: tuple[str, ...]
    says: tuple[str, ...]


def _spec(**changes: object) -> Callable[[Project], None]:
    return lambda p: p.spec(**changes)


def _write(rel: str, text: str | bytes) -> Callable[[Project], None]:
    return lambda p: p.write(rel, text)


X_IRIS, Y_IRIS = load_iris(return_X_y=True)
CHECK = ("spec", "check", "smkit.yaml")
PACKAGE = ("package", "smkit.yaml", "--no-verify")

MISTAKES = [
    # ----------------------------------------------------------------- the spec
    Mistake("spec file not there", lambda p: None, ("spec", "check", "smkit.yml"),
            ("smkit.yml does not exist", "smkit spec init")),
    Mistake("spec is not YAML", _write("smkit.yaml", "name: [x\nregion: us-east-1\n"), CHECK,
            ("not valid YAML at line",)),
    Mistake("role name instead of an ARN", _spec(**{"validation.role": "SageMakerExecution"}),
            CHECK, ("is a role name", "arn:aws:iam::123456789012:role/SageMakerExecution")),
    Mistake("a field name misspelled", _spec(instance_type={"realtime": ["ml.m5.large"]}),
            CHECK, ("instance_type: unknown field",)),
    Mistake("a GPU instance type", _spec(**{"instance_types.realtime": ["ml.g4dn.xlarge"]}),
            CHECK, ("GPU", "CPU types")),
    Mistake("an instance type misspelled", _spec(**{"instance_types.realtime": ["ml.m5.larg"]}),
            CHECK, ("did you mean ml.m5.large",)),
    Mistake("an opt-in region", _spec(region="af-south-1"), CHECK, ("opt-in region",)),
    Mistake("the bucket as a URL", _spec(**{"s3.bucket": "s3://my-bucket/x"}), CHECK,
            ("bucket name only", "'my-bucket'")),
    Mistake("model_dir that does not exist", _spec(model_dir="models"), CHECK,
            ("model_dir", "is not a directory")),
    Mistake("validation input that does not exist",
            _spec(**{"validation.input": "validation/test.csv"}), CHECK,
            ("validation.input", "does not exist")),
    Mistake("an unpinned package", _spec(python={"packages": ["xgboost"]}), CHECK,
            ("'xgboost' is not pinned", "xgboost==<version>")),
    Mistake("a source file that does not exist",
            _spec(python={"packages": ["scikit-learn==1.9.1"], "source": ["features.py"]}),
            CHECK, ("python.source[0]", "features.py")),
    Mistake("a wheel that is not a wheel",
            lambda p: (p.write("wheels/mylib.tar.gz", b"x"),
                       p.spec(python={"wheels": ["wheels/mylib.tar.gz"]})),
            CHECK, ("python.wheels[0]", "is not a .whl file")),
    Mistake("resources in two accounts", _spec(account_id="999999999999"), CHECK,
            ("different accounts",)),
    Mistake("payload x concurrency over 100",
            _spec(**{"validation.max_payload_mb": 50, "validation.max_concurrent_transforms": 3}),
            CHECK, ("max_concurrent_transforms x max_payload_mb is 150", "at most 100")),
    Mistake("validation type the product does not take",
            _spec(**{"validation.content_type": "application/json"}), CHECK,
            ("validation.content_type application/json is not in content_types",)),
    Mistake("image.local beside a python section",
            _spec(python={"packages": ["scikit-learn==1.9.1"]}, image={"local": "mine:1"}),
            CHECK, ("image.local and python are both given",)),
    # ----------------------------------------------------------------- the model and data
    Mistake("a model folder without a model",
            lambda p: (p.root / "model" / "model.joblib").unlink(), PACKAGE,
            ("no model.joblib", "joblib.dump")),
    Mistake("a model file that is not a pickle", _write("model/model.joblib", b"not a pickle"),
            PACKAGE, ("model.joblib cannot be loaded",)),
    Mistake("a pickle from another scikit-learn", _old_sklearn_pickle, PACKAGE,
            ("saved with scikit-learn 1.0.0", "scikit-learn==1.0.0 under python.packages")),
    Mistake("an empty validation file", _write("validation/input.csv", ""), PACKAGE,
            ("holds no records",)),
    Mistake("labeled rows given as the input",
            _spec(**{"validation.input": "validation/labeled.csv"}), PACKAGE,
            ("record 1 of labeled.csv has 5 columns; the model takes 4",
             "looks like labeled data")),
    Mistake("a short row in the validation input",
            _write("validation/input.csv", _rows(X_IRIS[:3]) + "5.1,3.5,1.4\n"), PACKAGE,
            ("record 4 of input.csv has 3 columns; the model takes 4",)),
    Mistake("python section env detect on a missing file", lambda p: None,
            ("env", "detect", "--model", "model/modle.joblib"), ("modle.joblib",)),
    Mistake("a package that does not exist",
            _spec(python={"packages": ["scikit-lern==1.9.1"]}), ("build", "smkit.yaml"),
            ("no package named scikit-lern",)),
    Mistake("a version that does not exist",
            _spec(python={"packages": ["numpy==0.0.1"]}), ("build", "smkit.yaml"),
            ("numpy has no version 0.0.1",)),
    Mistake("a pin against the server's own dependency",
            _spec(python={"packages": ["flask==2.0.3"]}), ("build", "smkit.yaml"),
            ("conflicts with the inference server's own dependency flask==3.1.3",)),
    # ----------------------------------------------------------------- running it
    Mistake("transform of labeled rows (smkit's runner)", lambda p: None,
            ("transform", "validation/labeled.csv", "--model", "model", "-o", "out"),
            ("expected 4 columns, got 5",)),
    Mistake("local transform of labeled rows (SDK local mode)", lambda p: None,
            ("local", "transform", "model", "validation/labeled.csv", "out"),
            ("request(s) of the local transform failed", "expected 4 columns, got 5")),
    Mistake("local endpoint with a broken model", _write("model/model.joblib", b"garbage"),
            ("local", "endpoint", "model", "--sample", "validation/input.csv"),
            ("model.joblib is not a loadable joblib file",)),
    Mistake("local endpoint of a folder with no model",
            lambda p: (p.root / "model" / "model.joblib").unlink(),
            ("local", "endpoint", "model", "--sample", "validation/input.csv"),
            ("has no model.joblib",)),
    Mistake("a request body whose type cannot be told", _write("request.txt", "5.1,3.5,1.4,0.2"),
            ("local", "invoke", "model", "request.txt"), ("cannot tell the content type",
                                                          "--content-type")),
    # ----------------------------------------------------------------- AWS and emulators
    Mistake("a stale emulator environment", _stale_emulators, ("publish", "smkit.yaml"),
            ("nothing answers at", "smkit emulators up")),
    Mistake("no AWS credentials", _no_credentials, ("push", "smkit.yaml"),
            ("no AWS credentials found", "smkit emulators up")),
    Mistake("an empty AWS_PROFILE", _empty_profile, ("push", "smkit.yaml"),
            ("AWS profile '' does not exist", "unset AWS_PROFILE")),
    Mistake("listing check of a missing listing", lambda p: None,
            ("listing", "check", "listing.yaml"), ("listing.yaml",)),
]

#: Mistakes whose command runs a container (still no image build: the default image).
RUNS_A_CONTAINER = {"a model file that is not a pickle", "a pickle from another scikit-learn",
                    "an empty validation file", "labeled rows given as the input",
                    "a short row in the validation input",
                    "transform of labeled rows (smkit's runner)",
                    "local transform of labeled rows (SDK local mode)",
                    "local endpoint with a broken model"}
#: Mistakes whose command asks the engine for the default image before it finds the mistake
#: (with no engine it takes the image for missing and sets out to build it).
ASKS_THE_ENGINE = {"a model folder without a model", "local endpoint of a folder with no model",
                   "a request body whose type cannot be told"}
#: The mistakes that need a Docker engine (and the image).
NEEDS_DOCKER = RUNS_A_CONTAINER | ASKS_THE_ENGINE


def test_the_suite_holds_at_least_thirty_distinct_mistakes() -> None:
    names = {m.name for m in MISTAKES}
    assert len(names) == len(MISTAKES) >= 30
    assert names >= NEEDS_DOCKER, NEEDS_DOCKER - names


CASES = [pytest.param(m, id=m.name,
                      marks=[pytest.mark.container] if m.name in NEEDS_DOCKER else [])
         for m in MISTAKES]


@pytest.mark.parametrize("mistake", CASES)
def test_a_newcomer_mistake_fails_fast_naming_the_cause_and_the_fix(
        mistake: Mistake, project: Project, request: pytest.FixtureRequest) -> None:
    mistake.make(project)
    env = {**os.environ, **project.env}
    if mistake.name in NEEDS_DOCKER:
        env["SMKIT_IMAGE"] = request.getfixturevalue("image")
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")] + project.unset:
        if key not in project.env:
            env.pop(key, None)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "smkit.cli", *mistake.command],
                              cwd=project.root, env=env, capture_output=True, text=True,
                              timeout=WAIT_LIMIT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`smkit {' '.join(mistake.command)}` was still waiting after "
                    f"{WAIT_LIMIT} s: it waited out a timeout instead of saying what is wrong")
    seconds = time.monotonic() - t0
    SUMMARY.append((mistake.name, seconds, proc.returncode))
    print(f"\n{mistake.name}: exit {proc.returncode} in {seconds:.1f} s")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error")]
    assert errors, proc.stderr
    first = errors[0]
    # Nothing but smkit's own progress notes may come before the error line.
    before = lines[: lines.index(first)]
    assert all(ln.startswith(("smkit:", "image:", "note:")) for ln in before), before
    for fragment in mistake.says:
        assert fragment in first, f"{fragment!r} not in the first error line: {first}"
