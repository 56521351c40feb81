"""The model scan reads what a model file needs without loading it (issue 12, item 2).

Models are trained here with the host venv's scikit-learn and saved in every format joblib
writes; the expected versions come from importlib.metadata, never from the scanner.
"""

from __future__ import annotations

import os
import pickle
import pickletools
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from smkit.cli import main
from smkit.core.errors import UserError
from smkit.image import pickle_scan
from smkit.project import spec as spec_mod
from smkit.project import spec_yaml

SKLEARN = version("scikit-learn")
NUMPY = version("numpy")
JOBLIB = version("joblib")
#: The last estimator of the Pipeline: pickled after the big arrays of the steps before it,
#: so it is only found when the scan steps over joblib's raw array bytes.
LAST_STEP = ("sklearn.neighbors._classification", "KNeighborsClassifier")

FEATURES_PY = '''
"""The seller's own transformer (a module of their project, not a distribution)."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class MyTransformer(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        self.offset_ = np.asarray(X).mean(axis=0)
        return self

    def transform(self, X):
        return np.asarray(X) - self.offset_
'''


def _data(rows: int = 400, width: int = 40) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, width)), columns=[f"x{i}" for i in range(width)])
    frame["colour"] = rng.choice(["red", "green", "blue"], rows)  # object arrays: nested pickle
    return frame, (frame["x0"] > 0).to_numpy(dtype=int)


@pytest.fixture(scope="module")
def pipeline() -> Any:
    """A fitted Pipeline with float arrays (KNN keeps its 400x43 training matrix) and the
    string categories of a OneHotEncoder (object arrays)."""
    from sklearn.compose import make_column_transformer
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame, y = _data()
    numeric = [c for c in frame.columns if c != "colour"]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), (StandardScaler(), numeric)),
        KNeighborsClassifier(n_neighbors=3, algorithm="brute"))
    return model.fit(frame, y)


SAVES = {
    "joblib": dict(compress=0),
    "joblib-zlib": dict(compress=3),
    "joblib-gzip": dict(compress=("gzip", 3)),
    "joblib-bz2": dict(compress=("bz2", 3)),
    "joblib-lzma": dict(compress=("lzma", 3)),
    "joblib-xz": dict(compress=("xz", 3)),
    "joblib-protocol2": dict(protocol=2),
}
FORMATS = {"joblib": "joblib", "joblib-zlib": "joblib (zlib)", "joblib-gzip": "joblib (gzip)",
           "joblib-bz2": "joblib (bz2)", "joblib-lzma": "joblib (lzma)",
           "joblib-xz": "joblib (xz)", "joblib-protocol2": "joblib", "pickle": "pickle",
           "pickle-protocol0": "pickle"}


@pytest.fixture(scope="module")
def saved(pipeline: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The pipeline in each format: joblib raw, every joblib compressor, plain pickles."""
    root = tmp_path_factory.mktemp("saved")
    out = {}
    for name, kwargs in SAVES.items():
        out[name] = root / f"{name}.joblib"
        joblib.dump(pipeline, out[name], **kwargs)
    out["pickle"] = root / "model.pkl"
    with out["pickle"].open("wb") as f:
        pickle.dump(pipeline, f)
    out["pickle-protocol0"] = root / "model-p0.pkl"
    with out["pickle-protocol0"].open("wb") as f:
        pickle.dump(pipeline, f, protocol=0)
    return out


@pytest.mark.parametrize("kind", list(FORMATS))
def test_every_joblib_format_and_a_plain_pickle_give_the_same_environment(
        saved: dict[str, Path], kind: str) -> None:
    scan = pickle_scan.scan_model(saved[kind])
    assert scan.format == FORMATS[kind]
    assert LAST_STEP in scan.globals
    assert ("sklearn.preprocessing._encoders", "OneHotEncoder") in scan.globals
    assert scan.sklearn_versions == (SKLEARN,)
    assert scan.requirements == (f"joblib=={JOBLIB}", f"numpy=={NUMPY}",
                                 f"scikit-learn=={SKLEARN}")
    assert scan.distributions["scikit-learn"][1] == ("sklearn.compose._column_transformer",
                                                     "sklearn.neighbors._classification",
                                                     "sklearn.pipeline",
                                                     "sklearn.preprocessing._data",
                                                     "sklearn.preprocessing._encoders")
    assert not scan.security_findings
    assert not scan.unresolved_modules
    assert not scan.mismatches


def test_the_fixture_exercises_the_raw_array_framing(saved: dict[str, Path]) -> None:
    """The premise: a plain opcode walk of the joblib file stops before the last step."""
    strings = []
    try:
        for op, arg, _ in pickletools.genops(saved["joblib"].read_bytes()):
            if op.name == "SHORT_BINUNICODE":
                strings.append(arg)
    except ValueError:
        pass
    assert "KNeighborsClassifier" not in strings
    assert saved["joblib"].stat().st_size > 400 * 40 * 8  # the float matrix is in the file


def test_a_truncated_joblib_file_is_refused_with_the_fix(saved: dict[str, Path],
                                                         tmp_path: Path) -> None:
    data = saved["joblib"].read_bytes()
    cut = tmp_path / "cut.joblib"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cut.joblib is not a loadable joblib file .*joblib.dump"):
        pickle_scan.scan_model(cut)


@pytest.mark.parametrize("content", [b"", b"hello, this is not a model\n", b"\x1f\x8bnot gzip"])
def test_a_file_that_is_no_model_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.joblib"
    path.write_bytes(content)
    with pytest.raises(UserError, match=r"model\.joblib"):
        pickle_scan.scan_model(path)


def test_a_folder_is_scanned_for_the_file_the_server_loads(saved: dict[str, Path],
                                                           tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(saved["joblib-zlib"].read_bytes())
    assert pickle_scan.scan_model(tmp_path).path == tmp_path / "model.joblib"
    with pytest.raises(UserError, match="does not exist"):
        pickle_scan.scan_model(tmp_path / "nope.joblib")


def test_a_skops_file_is_read_from_its_schema(pipeline: Any, tmp_path: Path) -> None:
    import skops.io as sio

    path = tmp_path / "model.skops"
    sio.dump(pipeline, path)
    scan = pickle_scan.scan_model(path)
    assert scan.format == "skops"
    assert LAST_STEP in scan.globals
    assert scan.sklearn_versions == (SKLEARN,)
    assert f"skops=={version('skops')}" in scan.requirements
    assert f"scikit-learn=={SKLEARN}" in scan.requirements
    assert not scan.security_findings


@pytest.fixture
def seller_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``seller_features.py`` in its own folder, importable while the model is trained."""
    src = tmp_path / "project"
    src.mkdir()
    (src / "seller_features.py").write_text(FEATURES_PY)
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.delitem(sys.modules, "seller_features", raising=False)
    return src


def _custom_model(seller_module: Path, path: Path) -> Path:
    import seller_features  # type: ignore[import-not-found]
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    frame, y = _data(rows=60, width=3)
    model = make_pipeline(seller_features.MyTransformer(), LogisticRegression())
    joblib.dump(model.fit(frame.drop(columns="colour"), y), path)
    del sys.modules["seller_features"]
    return path


def test_the_sellers_own_module_is_named_with_its_file(seller_module: Path,
                                                        tmp_path: Path) -> None:
    path = _custom_model(seller_module, tmp_path / "model.joblib")
    scan = pickle_scan.scan_model(path, search_path=[str(seller_module)])
    assert "seller_features" not in sys.modules  # found on the path, never imported
    [own] = scan.unresolved_modules
    assert own.module == "seller_features"
    assert own.globals == ("seller_features.MyTransformer",)
    assert own.origin == seller_module / "seller_features.py"
    assert own.distribution is None
    assert scan.python_section(seller_module) == {
        "packages": [f"joblib=={JOBLIB}", f"numpy=={NUMPY}", f"scikit-learn=={SKLEARN}"],
        "source": ["seller_features.py"]}
    assert any("seller_features (seller_features.MyTransformer) is no installed distribution"
               in w and "found at seller_features.py" in w for w in scan.warnings(seller_module))


def test_an_own_module_that_is_not_on_the_path_asks_for_its_folder(seller_module: Path,
                                                                   tmp_path: Path) -> None:
    path = _custom_model(seller_module, tmp_path / "model.joblib")
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    scan = pickle_scan.scan_model(path, search_path=[str(empty)])
    [own] = scan.unresolved_modules
    assert own.origin is None
    assert "source" not in scan.python_section(empty)
    assert "list the folder or .py file that defines it under python.source" in own.request()
    assert "# TODO seller_features" in scan.python_yaml(empty)


def _crafted(tmp_path: Path, body: bytes, name: str = "model.pkl") -> Path:
    """A protocol-2 pickle: PROTO 2, ``body``, STOP (checked by pickletools, never loaded)."""
    data = b"\x80\x02" + body + b"."
    with open(os.devnull, "w") as sink:
        pickletools.dis(data, out=sink)  # raises unless the opcodes are well-formed
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_module_that_is_not_installed_at_all_is_unresolved(tmp_path: Path) -> None:
    # GLOBAL 'not_installed_xyz.Model', EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, BUILD
    path = _crafted(tmp_path, b"cnot_installed_xyz.sub\nModel\n)\x81}b")
    scan = pickle_scan.scan_model(path, search_path=[str(tmp_path)])
    [missing] = scan.unresolved_modules
    assert (missing.module, missing.origin, missing.distribution) == (
        "not_installed_xyz", None, None)
    assert missing.globals == ("not_installed_xyz.sub.Model",)
    assert scan.requirements == (f"joblib=={JOBLIB}",)


def test_a_well_known_library_that_is_not_installed_names_its_distribution(
        tmp_path: Path) -> None:
    path = _crafted(tmp_path, b"cimblearn.pipeline\nPipeline\n)\x81}b")
    [missing] = pickle_scan.scan_model(path).unresolved_modules
    assert missing.distribution == "imbalanced-learn"
    assert "add imbalanced-learn==<the version you trained with>" in missing.request()


def test_an_own_package_is_named_by_its_folder_a_namespace_folder_is_asked_for(
        tmp_path: Path) -> None:
    (tmp_path / "ownpkg").mkdir()
    (tmp_path / "ownpkg" / "__init__.py").write_text("")
    (tmp_path / "ownpkg" / "steps.py").write_text("class T: pass\n")
    (tmp_path / "loose").mkdir()  # no __init__.py: which folder to ship is the seller's call
    (tmp_path / "loose" / "steps.py").write_text("class T: pass\n")
    path = _crafted(tmp_path, b"cownpkg.steps\nT\n)\x81}b0cloose.steps\nT\n)\x81}b")
    scan = pickle_scan.scan_model(path, search_path=[str(tmp_path)])
    assert {u.module: u.origin for u in scan.unresolved_modules} == {
        "ownpkg": tmp_path / "ownpkg", "loose": None}
    assert scan.python_section(tmp_path)["source"] == ["ownpkg"]


def test_a_class_defined_in_the_saving_script_is_asked_to_move_into_a_module(
        tmp_path: Path) -> None:
    path = _crafted(tmp_path, b"c__main__\nMyModel\n)\x81}b")
    [main_module] = pickle_scan.scan_model(path, search_path=[str(tmp_path)]).unresolved_modules
    assert main_module.module == "__main__"
    assert main_module.origin is None
    assert "move it into a module" in main_module.request()


def test_a_global_whose_name_is_computed_is_a_security_finding(tmp_path: Path) -> None:
    # BININT1 5, SHORT_BINUNICODE 'system', STACK_GLOBAL: the module is no literal string
    path = _crafted(tmp_path, b"K\x05\x8c\x06system\x93)R")
    findings = pickle_scan.scan_model(path).security_findings
    assert [f.name for f in findings] == ["system"]
    assert "computed while loading" in findings[0].reason


class _Evil:
    """Pickles as a call of ``fn(*args)``; it is only ever dumped, never loaded."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.fn, self.args


@pytest.mark.parametrize(("make", "expected"), [
    (lambda cmd: _Evil(os.system, cmd), ("posix", "system")),
    (lambda cmd: _Evil(subprocess.call, ["sh", "-c", cmd]), ("subprocess", "call")),
    (lambda cmd: _Evil(eval, f"__import__('os').system({cmd!r})"), ("builtins", "eval")),
    (lambda cmd: _Evil(__import__, "os"), ("builtins", "__import__")),
])
@pytest.mark.parametrize("compress", [0, 3])
def test_a_malicious_pickle_is_a_security_finding_and_never_runs(
        tmp_path: Path, make: Any, expected: tuple[str, str], compress: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "model.joblib"
    joblib.dump({"model": make(f"touch {marker}")}, path, compress=compress)
    scan = pickle_scan.scan_model(path)
    assert not marker.exists()
    assert expected in {(f.module, f.name) for f in scan.security_findings}
    assert any(w.startswith(f"SECURITY: {expected[0]}.{expected[1]}: ")
               for w in scan.warnings())


def test_a_recorded_scikit_learn_version_that_differs_is_pinned_and_reported(
        tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    class Old:  # pickles as LogisticRegression with the state an old version wrote
        def __reduce__(self) -> tuple[Any, ...]:
            return LogisticRegression, (), {"C": 1.0, "_sklearn_version": "1.5.2"}

    path = tmp_path / "model.joblib"
    joblib.dump(Old(), path)
    scan = pickle_scan.scan_model(path)
    assert scan.sklearn_versions == ("1.5.2",)
    assert "scikit-learn==1.5.2" in scan.requirements
    [mismatch] = scan.mismatches
    assert (mismatch.distribution, mismatch.installed, mismatch.recorded) == (
        "scikit-learn", SKLEARN, "1.5.2")
    assert f"saved with scikit-learn 1.5.2 but {SKLEARN} is installed" in str(mismatch)


def test_several_recorded_versions_are_all_named(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    class Old:
        def __init__(self, recorded: str) -> None:
            self.recorded = recorded

        def __reduce__(self) -> tuple[Any, ...]:
            return LogisticRegression, (), {"_sklearn_version": self.recorded}

    path = tmp_path / "model.joblib"
    joblib.dump([Old("1.4.2"), Old("1.5.2")], path)
    scan = pickle_scan.scan_model(path)
    assert scan.sklearn_versions == ("1.4.2", "1.5.2")
    [mismatch] = scan.mismatches
    assert "several scikit-learn versions (1.4.2: " in str(mismatch)
    assert f"scikit-learn=={SKLEARN}" in scan.requirements


# --- the command line -----------------------------------------------------------------


def test_env_detect_prints_a_python_section_that_parses(
        saved: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["env", "detect", "--model", str(saved["joblib-gzip"])]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    packages = out["python"]["packages"]
    assert f"scikit-learn=={SKLEARN}" in packages
    assert f"numpy=={NUMPY}" in packages
    assert spec_mod.PythonEnv.model_validate(out["python"]).packages == packages


def test_env_detect_refuses_a_security_finding_unless_allowed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "model").mkdir()
    with (tmp_path / "model" / "model.pkl").open("wb") as f:
        pickle.dump(_Evil(os.system, f"touch {marker}"), f)
    monkeypatch.chdir(tmp_path)
    assert main(["env", "detect"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "SECURITY: posix.system" in captured.err
    assert "--allow-unsafe" in captured.err
    assert main(["env", "detect", "--allow-unsafe"]) == 0
    assert "python:" in capsys.readouterr().out
    assert not marker.exists()


def test_spec_init_with_a_model_writes_a_spec_that_checks(
        seller_module: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = seller_module  # the seller's project: features module, model/, validation/
    (root / "model").mkdir()
    _custom_model(seller_module, root / "model" / "model.joblib")
    (root / "validation").mkdir()
    (root / "validation" / "input.csv").write_text("1,2,3\n")
    monkeypatch.chdir(root)
    assert main(["spec", "init", "smkit.yaml", "--model", "model/model.joblib"]) == 0
    assert "seller_features" in capsys.readouterr().err
    data = yaml.safe_load((root / "smkit.yaml").read_text())
    assert data["python"] == {
        "packages": [f"joblib=={JOBLIB}", f"numpy=={NUMPY}", f"scikit-learn=={SKLEARN}"],
        "source": ["seller_features.py"]}
    spec = spec_yaml.parse(data, root)
    assert spec.python.source == [root.resolve() / "seller_features.py"]
    assert main(["spec", "check", "smkit.yaml"]) == 0


def test_spec_init_points_model_dir_at_the_models_folder(
        saved: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["spec", "init", "s.yaml", "--model", str(saved["joblib"])]) == 0
    data = yaml.safe_load((tmp_path / "s.yaml").read_text())
    assert Path(tmp_path, data["model_dir"]).resolve() == saved["joblib"].parent.resolve()
    assert data["python"]["packages"][-1] == f"scikit-learn=={SKLEARN}"


def test_a_histgradientboosting_models_compiled_loss_is_scikit_learns(tmp_path: Path) -> None:
    """scikit-learn 1.5-1.6 HistGradientBoosting models pickle their Cython loss as the bare
    module ``_loss`` (seen in a 1.6.1 model): that is scikit-learn, not the seller's code."""
    path = tmp_path / "model.pkl"
    # What such a model's pickle holds for its loss: GLOBAL '_loss CyHalfSquaredError'.
    path.write_bytes(b"\x80\x02c_loss\nCyHalfSquaredError\nq\x00)\x81q\x01.")
    scan = pickle_scan.scan_model(path)
    assert "_loss" in scan.modules
    assert scan.unresolved_modules == ()
    assert any(r.startswith("scikit-learn==") for r in scan.requirements)
