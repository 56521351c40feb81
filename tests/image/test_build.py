"""The image builder: a shared server base, one layer of model packages, named by content.

The resolution tests ask pip's resolver about real packages on the index (the build needs the
index for its wheels anyway); the container tests build a real product image once per run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from smkit.cli import main as cli_main
from smkit.core import resources
from smkit.core.errors import UserError
from smkit.image import build as images
from smkit.image import docker
from smkit.project import spec as spec_mod
from smkit.project import spec_yaml
from smkit_testkit import save_model

SELLER_MODULE = '''\
"""The seller's own transformer, importable only from python.source."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class Doubler(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) * 2.0
'''


def env(tmp_path: Path, **fields: object) -> spec_mod.PythonEnv:
    """A PythonEnv as a spec would parse it (paths relative to tmp_path)."""
    data = {k: ([str(tmp_path / p) for p in v] if k in ("wheels", "source") else v)
            for k, v in fields.items()}
    return spec_mod.PythonEnv.model_validate(data)


def test_an_unpinned_requirement_is_refused_with_the_pin_to_write() -> None:
    with pytest.raises(ValueError, match=r"xgboost==<version>"):
        spec_mod.PythonEnv.model_validate({"packages": ["xgboost>=2"]})


def test_a_pin_of_a_server_dependency_at_another_version_is_refused_before_pip() -> None:
    with pytest.raises(UserError) as info:
        images.resolve(["Flask==2.0.3"], find_links=[])
    assert "flask==3.1.3" in str(info.value)
    assert "inference server" in str(info.value)


@pytest.mark.parametrize(("requirement", "expected"), [
    ("smkit-no-such-package-xyz==1.0", "no package named smkit-no-such-package-xyz"),
    ("numpy==0.0.1", "numpy has no version 0.0.1"),
    # pycrypto was never published as a wheel: the index has only its sdist.
    ("pycrypto==2.6.1", "no wheel for the image's Python"),
    # scikit-learn 1.5.2 needs numpy >= 1.19.5, but numpy 1.19 predates CPython 3.11 wheels.
    ("numpy==1.19.5", "no wheel for the image's Python"),
])
def test_a_requirement_the_image_cannot_install_fails_in_one_line_naming_it(
        requirement: str, expected: str) -> None:
    with pytest.raises(UserError) as info:
        images.resolve([requirement], find_links=[])
    message = str(info.value)
    assert message.startswith(f"python: {requirement}")
    assert expected in message
    assert "\n" not in message


def test_conflicting_pins_name_the_conflict() -> None:
    with pytest.raises(UserError) as info:
        images.resolve(["scikit-learn==1.5.2", "numpy==1.18.5"], find_links=[])
    assert "numpy" in str(info.value)


def test_the_layer_is_resolved_with_the_servers_pins_and_keeps_default_versions() -> None:
    wheels = {w.name: w.version for w in images.resolve(["scikit-learn==1.5.2"],
                                                        find_links=[])}
    assert wheels["scikit-learn"] == "1.5.2"
    # Unnamed packages of the default environment keep their default version when they fit.
    assert wheels["numpy"] == images.read_pins(resources.DEFAULT_PINS)["numpy"]
    # The server's own packages are in the base, never in the layer.
    assert "flask" not in wheels
    assert "gunicorn" not in wheels


def test_a_pin_the_defaults_do_not_fit_is_resolved_and_the_build_says_so() -> None:
    said: list[str] = []
    wheels = {w.name: w.version for w in images.resolve(["scikit-learn==1.3.2"],
                                                        find_links=[], log=said.append)}
    assert wheels["scikit-learn"] == "1.3.2"
    assert wheels["numpy"].startswith("1."), "scikit-learn 1.3.2 was built for numpy 1.x"
    assert any("default environment's versions do not all fit" in line for line in said), said


def test_the_image_name_follows_its_content(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    module = tmp_path / "src" / "features.py"
    module.write_text(SELLER_MODULE)
    layer = images.Layer([images.Wheel("scikit-learn", "1.9.1", "x.whl")], [],
                         images._source_layout([tmp_path / "src"]))
    first = layer.plan("smkit-base:1").tag
    assert layer.plan("smkit-base:1").tag == first
    assert layer.plan("smkit-base:2").tag != first
    module.write_text(SELLER_MODULE + "\n# changed\n")
    assert layer.plan("smkit-base:1").tag != first


def test_two_source_entries_of_one_name_are_refused(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "features.py").write_text("X = 1\n")
    with pytest.raises(UserError, match=r"features\.py comes from both"):
        images._source_layout([tmp_path / "a", tmp_path / "b"])


@pytest.fixture(scope="module")
def seller_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model whose Pipeline holds the seller's own class, from the seller's features.py."""
    import importlib.util
    import sys

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    root = tmp_path_factory.mktemp("seller")
    (root / "src").mkdir()
    (root / "src" / "features.py").write_text(SELLER_MODULE)
    spec = importlib.util.spec_from_file_location("features", root / "src" / "features.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["features"] = module
    try:
        spec.loader.exec_module(module)
        X, y = load_iris(return_X_y=True)
        model = Pipeline([("double", module.Doubler()),
                          ("clf", LogisticRegression(max_iter=500))]).fit(X, y)
        save_model(model, root / "model")
        # The seller's class sets no n_features_in_: the start-up check needs a sample.
        (root / "model" / "sample_input.csv").write_text(",".join(str(v) for v in X[0]))
    finally:
        del sys.modules["features"]
    (root / "validation").mkdir()
    (root / "validation" / "input.csv").write_text(
        "\n".join(",".join(str(v) for v in row) for row in X[:20]) + "\n")
    return root


def _write_spec(root: Path, python: dict[str, object] | None) -> Path:
    import yaml

    data = {
        "name": "seller-model", "region": "us-east-1", "model_dir": "model",
        "s3": {"bucket": "my-bucket"},
        "instance_types": {"realtime": ["ml.m5.large"], "transform": ["ml.m5.large"]},
        "validation": {"role": "arn:aws:iam::123456789012:role/R", "input":
                       "validation/input.csv"},
    }
    if python is not None:
        data["python"] = python
    path = root / "smkit.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.container
def test_a_server_that_is_not_ready_fails_the_wait_at_once_with_its_reason(
        tmp_path: Path) -> None:
    from smkit.core.errors import UserError as Refused

    (tmp_path / "model.joblib").write_bytes(b"not a pickle")
    t0 = time.monotonic()
    with pytest.raises(Refused) as info, docker.serve(images.default_tags()[-1], tmp_path):
        pass
    first = str(info.value).splitlines()[0]
    assert "model.joblib is not a loadable joblib file" in first
    # It did not wait out the 240 s start-up limit (generous: the log is fetched too).
    assert time.monotonic() - t0 < 60


@pytest.mark.container
def test_a_model_needing_the_sellers_module_is_refused_at_package_until_source_names_it(
        seller_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec_file = _write_spec(seller_project, {"packages": ["scikit-learn==1.9.1"]})
    assert cli_main(["package", str(spec_file), "--no-verify"]) != 0
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1
    assert "needs the module 'features'" in errors[0]
    assert "python.source" in errors[0]


@pytest.mark.container
def test_a_product_image_shares_the_base_layers_and_is_built_once(
        seller_project: Path) -> None:
    spec_file = _write_spec(seller_project, {"packages": ["scikit-learn==1.9.1"],
                                             "source": ["src"]})
    spec = spec_yaml.load(spec_file)
    tag = images.ensure_image(spec.python)
    assert tag.startswith(f"{images.PRODUCT_REPOSITORY}:")
    labels = json.loads(docker.docker("image", "inspect", "-f", "{{json .Config.Labels}}",
                                      tag).stdout)
    base = images.ensure_base()
    assert images.layer_for(spec.python).plan(base).key == labels[images.ENV_LABEL]

    def layers(image: str) -> list[str]:
        return json.loads(docker.docker("image", "inspect", "-f",
                                        "{{json .RootFS.Layers}}", image).stdout)

    base_layers = layers(base)
    assert layers(tag)[: len(base_layers)] == base_layers
    assert len(layers(tag)) > len(base_layers)
    # Same content: the same image, not a second build.
    image_id = docker.docker("image", "inspect", "-f", "{{.Id}}", tag).stdout
    assert images.ensure_image(spec.python) == tag
    assert docker.docker("image", "inspect", "-f", "{{.Id}}", tag).stdout == image_id
    versions = json.loads(docker.docker("run", "--rm", "--network", "none", "--entrypoint",
                                        "cat", tag, "/opt/smkit/versions.json").stdout)
    assert versions["packages"]["scikit-learn"] == "1.9.1"
    assert versions["python"].startswith("3.11.")


@pytest.mark.container
def test_the_product_image_serves_the_sellers_pipeline_with_no_network(
        seller_project: Path) -> None:
    import numpy as np

    spec_file = _write_spec(seller_project, {"packages": ["scikit-learn==1.9.1"],
                                             "source": ["src"]})
    spec = spec_yaml.load(spec_file)
    tag = images.ensure_image(spec.python)
    X, _y = load_iris(return_X_y=True)
    body = "\n".join(",".join(str(v) for v in row) for row in X[::10]).encode()
    with docker.serve(tag, seller_project / "model", network="none") as server:
        status, _, out = server.request_inside(
            "POST", "/invocations", body, {"Content-Type": "text/csv",
                                           "Accept": "application/json"})
    assert status == 200, out
    import sys

    import joblib
    sys.path.insert(0, str(seller_project / "src"))
    try:
        expected = joblib.load(seller_project / "model" / "model.joblib").predict(X[::10])
    finally:
        sys.path.remove(str(seller_project / "src"))
        sys.modules.pop("features", None)
    assert json.loads(out)["predictions"] == np.asarray(expected).tolist()


@pytest.mark.container
def test_a_numpy_whose_testing_module_imports_a_helper_beside_its_tests_still_imports(
        tmp_path: Path) -> None:
    # numpy 2.2's numpy.testing imports numpy._core.tests._natype, and scipy imports
    # numpy.testing: slimming the layer must keep that helper (the build imports sklearn.base,
    # which imports scipy, so a missing one already fails the build).
    tag = images.ensure_image(env(tmp_path, packages=["numpy==2.2.6", "scikit-learn==1.6.1"]))
    out = docker.docker("run", "--rm", "--network", "none", "--entrypoint", "python3", tag, "-c",
                        "import glob, numpy, numpy.testing, scipy.stats, sklearn; "
                        "print(numpy.__version__, len(glob.glob(numpy.__path__[0] + "
                        "'/**/tests/test_*.py', recursive=True)))").stdout.decode().split()
    assert out == ["2.2.6", "0"], "numpy's test modules are back in the image"


def test_an_unexplained_resolver_failure_shows_pips_error_not_its_progress() -> None:
    from smkit.image.build import _explain_resolution_failure

    said = _explain_resolution_failure(
        "ERROR: Package 'numpy' requires a different Python: 3.11.7 not in '>=3.12'\n"
        "Collecting threadpoolctl==3.8.0\n  Downloading threadpoolctl-3.8.0-py3-none-any.whl\n"
        "INFO: pip is looking at multiple versions of numpy\n", ["numpy==2.5.5"])
    assert said == ("python: pip could not resolve the requirements: ERROR: Package 'numpy' "
                    "requires a different Python: 3.11.7 not in '>=3.12'")
