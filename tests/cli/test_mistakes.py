"""The mistakes a newcomer makes, as data: each must fail fast, with its cause and the fix.

Every case starts from a good project (an iris tree, its held-out rows, a valid spec for the
default image), breaks one thing, and runs one smkit command as a user would, in a
subprocess. Each must exit non-zero and print, as its first error line, the cause and the
fix. How long each took is printed (``-s``) and measured, not asserted; a command that waits
out one of its own timeouts (the 2-minute SDK wait, the 4-minute start-up limit) is stopped
at ``WAIT_LIMIT`` and fails.
"""

from __future__ import annotations

import json
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
from smkit_testkit import HANG_MODULE, HANG_TRAIN, TRAIN_IN_MAIN

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




def _class_in_main(p: Project) -> None:
    """The model as `python train.py` saves it: its LogDistance lives in __main__."""
    p.write("train.py", TRAIN_IN_MAIN)
    subprocess.run([sys.executable, "train.py", "model/model.joblib"], cwd=p.root, check=True)


def _truncated(p: Project) -> None:
    """The model file cut short, as an interrupted copy or upload leaves it."""
    raw = (p.root / "model" / "model.joblib").read_bytes()
    p.write("model/model.joblib", raw[: len(raw) // 2])


def _newer_protocol(p: Project) -> None:
    """The model saved with a pickle protocol (6) that the image's Python 3.11 cannot read."""
    raw = (p.root / "model" / "model.joblib").read_bytes()
    assert raw[:1] == b"\x80"  # PROTO, then the protocol number
    p.write("model/model.joblib", raw[:1] + b"\x06" + raw[2:])


def _path_from_python_313(p: Project) -> None:
    """A model holding a pathlib path, as Python 3.13 pickles it (pathlib._local.PosixPath,
    a module Python 3.11 does not have)."""
    import pathlib
    import pickle

    model = DecisionTreeClassifier(random_state=0).fit(X_IRIS, Y_IRIS)
    model.data_path_ = pathlib.PurePosixPath("/data/train.csv")  # type: ignore[attr-defined]
    raw = pickle.dumps(model, protocol=2)  # GLOBAL opcodes: the module name as text
    old = b"cpathlib\nPurePosixPath\n"
    assert old in raw
    p.write("model/model.pkl", raw.replace(old, b"cpathlib._local\nPurePosixPath\n"))
    (p.root / "model" / "model.joblib").unlink()


def _no_engine(p: Project) -> None:
    """No Docker engine answers (DOCKER_HOST names a socket nobody listens on)."""
    p.env["DOCKER_HOST"] = f"unix://{p.root / 'no-engine.sock'}"


def _hangs_in_predict(p: Project) -> None:
    """A Pipeline whose first step (the seller's module, shipped as python.source) hangs in
    transform; its product image is built first, as the seller would with `smkit build`."""
    import sklearn

    p.write("hang.py", HANG_MODULE)
    p.write("train.py", HANG_TRAIN)
    subprocess.run([sys.executable, "train.py", "model/model.joblib"], cwd=p.root,
                   check=True, timeout=120)
    p.spec(python={"packages": [f"scikit-learn=={sklearn.__version__}"],
                   "source": ["hang.py"]})
    subprocess.run([sys.executable, "-m", "smkit.cli", "build", "smkit.yaml"], cwd=p.root,
                   env={**os.environ, **p.env}, check=True, capture_output=True)


def _new_product_image(p: Project) -> None:
    """A python section whose image is not built yet (its own source file, new each run), so
    the command builds it, and prints its progress, before it finds the mistake."""
    import uuid

    import sklearn

    p.write("features.py", f"RUN = {uuid.uuid4().hex!r}\n")
    p.spec(python={"packages": [f"scikit-learn=={sklearn.__version__}"],
                   "source": ["features.py"]},
           **{"validation.input": "validation/labeled.csv"})


def _label_first_listing(p: Project, signature: bool = True) -> None:
    """A house-price model (a city column, then numbers) packaged with its input signature
    (or, with ``signature`` False, a manifest without one), a model package for it in the
    emulators, and its 300 held-out rows with the price FIRST."""
    import boto3
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"city": rng.choice(["Oslo", "Bergen", "Tromso"], n),
                          "area": rng.uniform(30, 200, n).round(1),
                          "rooms": rng.integers(1, 7, n)})
    price = frame["area"] * 50_000 + frame["rooms"] * 10_000
    model = make_pipeline(make_column_transformer((OneHotEncoder(), ["city"]),
                                                  remainder="passthrough"),
                          LinearRegression()).fit(frame, price)
    (p.root / "house").mkdir()
    joblib.dump(model, p.root / "house" / "model.joblib")
    columns = [{"name": "city", "kind": "string", "optional": False},
               {"name": "area", "kind": "number", "optional": False},
               {"name": "rooms", "kind": "integer", "optional": False}]
    model_info = {"type": "Pipeline", "task": "regression", "n_features": 3,
                  "feature_names": ["city", "area", "rooms"], "classes": None}
    if signature:
        p.write("house/manifest.json", json.dumps({
            "format": "smkit-manifest/1", "model": model_info,
            "signature": {"columns": columns, "frame": True}}))
    else:  # one the server accepts, as `smkit package` writes it without a signature
        import platform

        import sklearn
        import smkit
        import smkit_contract.manifest as mf

        file = p.root / "house" / "model.joblib"
        versions = {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                    "numpy": np.__version__, "joblib": joblib.__version__,
                    "smkit": smkit.__version__}
        entries = {"model.joblib": {"sha256": mf.sha256_file(file),
                                    "size": file.stat().st_size}}
        p.write("house/manifest.json", json.dumps(
            mf.build(entries, versions, "unused:1", None, model_info, None)))
    labeled = frame.assign(price=price)[["price", "city", "area", "rooms"]]
    p.write("validation/houses-labeled.csv", labeled.to_csv(header=False, index=False))
    sm = boto3.client("sagemaker", region_name="us-east-1")
    arn = sm.create_model_package(
        ModelPackageName=f"houses-{p.root.name[-12:].replace('_', '-')}",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/h:1"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
            "SupportedTransformInstanceTypes": ["ml.m5.large"]},
        CertifyForMarketplace=True)["ModelPackageArn"]
    p.write("arn.txt", arn)


def _with_python_section(p: Project) -> None:
    """smkit.yaml declares its python section, so smkit local runs the product image."""
    import sklearn

    p.spec(python={"packages": [f"scikit-learn=={sklearn.__version__}"]})


@dataclass(frozen=True)
class Mistake:
    """One thing a newcomer gets wrong: how to make it, the command, what it must say."""

    name: str
    make: Callable[[Project], None]
    #: The command's arguments; ``@file`` stands for the text of a file ``make`` wrote.
    command: tuple[str, ...]
    says: tuple[str, ...]
    #: Paths (relative to the project) a failed command must not leave behind.
    leaves_nothing: tuple[str, ...] = ()
    #: What must follow the error line (context the command held back until then).
    then: tuple[str, ...] = ()


def _spec(**changes: object) -> Callable[[Project], None]:
    return lambda p: p.spec(**changes)


def _write(rel: str, text: str | bytes) -> Callable[[Project], None]:
    return lambda p: p.write(rel, text)


X_IRIS, Y_IRIS = load_iris(return_X_y=True)
CHECK = ("spec", "check", "smkit.yaml")
PACKAGE = ("package", "smkit.yaml", "--no-verify")
DETECT = ("env", "detect", "--model", "model")
SPEC_INIT = ("spec", "init", "new.yaml", "--model", "model/model.joblib")
ENDPOINT = ("local", "endpoint", "model", "--sample", "validation/input.csv")
#: The first line every command gives for the model pickled with a class from __main__.
IN_MAIN = ("model.joblib: __main__.LogDistance was defined in the script or notebook that "
           "saved the model (__main__)", "move it into a module")
#: The first line every command gives for a truncated model file.
TRUNCATED = ("model.joblib is not a loadable joblib file", "truncated or corrupt",
             "joblib.dump")

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
    Mistake("a model file that is not a pickle",
            lambda p: (p.write("model/model.joblib", b"not a pickle"), _no_engine(p)),
            PACKAGE, ("model.joblib is not a loadable joblib file",)),
    Mistake("a model that hangs in predict (package)", _hangs_in_predict, PACKAGE,
            ("the sklearn model did not predict the validation sample within 60 s",
             "the model hangs in predict")),
    Mistake("a class from __main__ (env detect)", _class_in_main, DETECT, IN_MAIN),
    Mistake("a class from __main__ (spec init)", _class_in_main, SPEC_INIT, IN_MAIN,
            leaves_nothing=("new.yaml",)),
    Mistake("a class from __main__ (spec check)", _class_in_main, CHECK, IN_MAIN),
    Mistake("a class from __main__ (package)",
            lambda p: (_class_in_main(p), _no_engine(p)), PACKAGE, IN_MAIN),
    Mistake("a class from __main__ (local endpoint)", _class_in_main, ENDPOINT, IN_MAIN),
    Mistake("a truncated model file (env detect)", _truncated, DETECT, TRUNCATED),
    Mistake("a truncated model file (spec check)", _truncated, CHECK, TRUNCATED),
    Mistake("a truncated model file (package)",
            lambda p: (_truncated(p), _no_engine(p)), PACKAGE, TRUNCATED),
    Mistake("a truncated model file (local endpoint)", _truncated, ENDPOINT, TRUNCATED),
    Mistake("a pickle protocol the image's Python cannot read", _newer_protocol, CHECK,
            ("model.joblib uses pickle protocol 6", "reads protocols up to 5", "protocol=5")),
    Mistake("a path pickled by Python 3.13", _path_from_python_313, DETECT,
            ("model.pkl references pathlib._local, which Python 3.11", "plain types")),
    Mistake("a pickle from another scikit-learn", _old_sklearn_pickle, PACKAGE,
            ("saved with scikit-learn 1.0.0", "scikit-learn==1.0.0 under python.packages")),
    Mistake("an empty validation file", _write("validation/input.csv", ""), PACKAGE,
            ("holds no records",)),
    Mistake("labeled rows given as the input",
            _spec(**{"validation.input": "validation/labeled.csv"}), PACKAGE,
            ("record 1 of labeled.csv has 5 columns; the model takes 4",
             "looks like labeled data")),
    Mistake("labeled rows given as the input, after building the image", _new_product_image,
            PACKAGE, ("record 1 of labeled.csv has 5 columns; the model takes 4",),
            then=("smkit: building",)),
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
    Mistake("a library with no wheel for the image",
            _spec(python={"packages": ["scikit-learn==1.9.1", "pycrypto==2.6.1"]}),
            ("build", "smkit.yaml"),
            ("pycrypto==2.6.1: no wheel for the image's Python (3.11", "python.wheels")),
    Mistake("a pin against the server's own dependency",
            _spec(python={"packages": ["flask==2.0.3"]}), ("build", "smkit.yaml"),
            ("conflicts with the inference server's own dependency flask==3.1.3",)),
    # ----------------------------------------------------------------- running it
    Mistake("transform of labeled rows (smkit's runner)", lambda p: None,
            ("transform", "validation/labeled.csv", "--model", "model", "-o", "out"),
            ("expected 4 columns, got 5", "looks like labeled data")),
    Mistake("local transform of labeled rows (SDK local mode)", lambda p: None,
            ("local", "transform", "model", "validation/labeled.csv", "out"),
            ("request(s) of the local transform failed", "expected 4 columns, got 5",
             "looks like labeled data")),
    Mistake("local endpoint with a broken model", _write("model/model.joblib", b"garbage"),
            ENDPOINT, ("model.joblib is not a loadable joblib file",)),
    Mistake("local transform of a header row (product image)", lambda p: (
        _with_python_section(p), p.write("validation/header.csv", "a,b,c,d\n5.1,3.5,1.4,0.2\n")),
        ("local", "transform", "model", "validation/header.csv", "out"),
        ("request(s) of the local transform failed", "column 1 must be a number, got 'a'")),
    Mistake("local transform of a bad cell (product image)", lambda p: (
        _with_python_section(p), p.write("validation/cell.csv", "5.1,3.5,x,0.2\n")),
        ("local", "transform", "model", "validation/cell.csv", "out"),
        ("request(s) of the local transform failed", "column 3 must be a number, got 'x'")),
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
    Mistake("labeled rows with the label first (listing init)", _label_first_listing,
            ("listing", "init", "--model-package", "@arn.txt", "--model-dir", "house",
             "--validation", "validation/houses-labeled.csv", "--image", "unused:1"),
            ("--validation houses-labeled.csv: the label is the first column, not the last",
             "move it to the last column"),
            leaves_nothing=("samples", "listing.yaml", "notebook")),
    Mistake("labeled rows with the label first, no signature (listing init)",
            lambda p: _label_first_listing(p, signature=False),
            ("listing", "init", "--model-package", "@arn.txt", "--model-dir", "house",
             "--validation", "validation/houses-labeled.csv"),
            ("--validation houses-labeled.csv: the label is the first column, not the last",
             "takes it with its first cell moved to the end", "move it to the last column"),
            leaves_nothing=("samples", "listing.yaml", "notebook")),
]

#: Mistakes whose command runs a container (the default image, or the product image of a
#: python section naming the default image's own scikit-learn).
RUNS_A_CONTAINER = {"a pickle from another scikit-learn",
                    "labeled rows given as the input, after building the image",
                    "a model that hangs in predict (package)",
                    "an empty validation file", "labeled rows given as the input",
                    "a short row in the validation input",
                    "transform of labeled rows (smkit's runner)",
                    "local transform of labeled rows (SDK local mode)",
                    "local transform of a header row (product image)",
                    "local transform of a bad cell (product image)",
                    "labeled rows with the label first, no signature (listing init)"}
#: Mistakes whose command asks the engine for the default image before it finds the mistake
#: (with no engine it takes the image for missing and sets out to build it); the pickle
#: scan then refuses the model before any container starts.
#: (`smkit package` scans the model first: its mistakes run with no engine at all.)
ASKS_THE_ENGINE = {"a model folder without a model", "local endpoint of a folder with no model",
                   "a request body whose type cannot be told",
                   "local endpoint with a broken model",
                   "a class from __main__ (local endpoint)",
                   "a truncated model file (local endpoint)"}
#: The mistakes that need a Docker engine (and the image).
NEEDS_DOCKER = RUNS_A_CONTAINER | ASKS_THE_ENGINE
#: Mistakes that need the emulators (moto: a model package to describe).
NEEDS_EMULATORS = {"labeled rows with the label first (listing init)",
                   "labeled rows with the label first, no signature (listing init)"}


def test_the_suite_holds_at_least_thirty_distinct_mistakes() -> None:
    names = {m.name for m in MISTAKES}
    assert len(names) == len(MISTAKES) >= 30
    assert names >= NEEDS_DOCKER | NEEDS_EMULATORS, (NEEDS_DOCKER | NEEDS_EMULATORS) - names


CASES = [pytest.param(m, id=m.name,
                      marks=[pytest.mark.container] if m.name in NEEDS_DOCKER else [])
         for m in MISTAKES]


@pytest.mark.parametrize("mistake", CASES)
def test_a_newcomer_mistake_fails_fast_naming_the_cause_and_the_fix(
        mistake: Mistake, project: Project, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if mistake.name in NEEDS_EMULATORS:
        project.env.update(request.getfixturevalue("emulators"))
        for key, value in project.env.items():  # for make(), which creates AWS resources
            monkeypatch.setenv(key, value)
    mistake.make(project)
    env = {**os.environ, **project.env}
    if mistake.name in NEEDS_DOCKER:
        env["SMKIT_IMAGE"] = request.getfixturevalue("image")
    for key in [k for k in env if k.startswith("AWS_ENDPOINT_URL")] + project.unset:
        if key not in project.env:
            env.pop(key, None)
    command = [(project.root / arg[1:]).read_text() if arg.startswith("@") else arg
               for arg in mistake.command]
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "smkit.cli", *command],
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
    # The error is the first line: context (which image ran, the log) comes after it.
    assert lines[0] == first, lines[: lines.index(first) + 1]
    for fragment in mistake.says:
        assert fragment in first, f"{fragment!r} not in the first error line: {first}"
    after = "\n".join(lines[1:])
    for fragment in mistake.then:
        assert fragment in after, f"{fragment!r} not after the error line: {lines}"
    left = [rel for rel in mistake.leaves_nothing if (project.root / rel).exists()]
    assert not left, f"the failed command left {left} behind"
