"""Issue 23 items 2 and 6: a seller's folder as their tools saved it, taken from the folder
alone.

Each folder is trained in a venv of its own (``venvkit.FOLDER_ENVS``): an MLflow model
directory (``mlflow.sklearn.save_model``: ``MLmodel``, ``model.skops``, MLflow's pins), and
a joblib model with the seller's ``pip freeze`` beside it as ``requirements.txt``. As the
README's seller path goes: ``smkit spec init --model model`` writes the python section from
the pins beside the model (never smkit's own environment: the host venv has other versions),
the seller adds the sample records the starter asks for, ``smkit build`` makes the image,
and the model served from it under ``--network none`` answers what its own predict and
predict_proba gave in the training venv.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from productkit import PROBABILITIES, assert_same, invoke, run_smkit
from smkit.image import docker
from smkit_contract import names
from venvkit import FOLDER_ENVS, train

pytestmark = pytest.mark.container

#: The distributions whose pins must come from the seller's file, for each folder.
READ_PINS = {
    "mlflow": ("scikit-learn", "skops"),
    # numpy and joblib differ from the host venv's, so only the freeze can have given them.
    "frozen": ("scikit-learn", "numpy", "joblib"),
}


@pytest.mark.parametrize("env_name", list(FOLDER_ENVS))
def test_spec_init_reads_the_folder_and_its_image_serves_the_sellers_predict(
        env_name: str, tmp_path: Path) -> None:
    env = FOLDER_ENVS[env_name]
    (model,) = train(env, tmp_path / "trained").models.values()
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(model.model_dir, project / "model")
    assert names.model_file(project / "model").name == model.expected["file"]

    init = run_smkit("spec", "init", "--model", "model", cwd=project, timeout=300)
    assert init.returncode == 0, init.stderr
    packages = yaml.safe_load((project / "smkit.yaml").read_text())["python"]["packages"]
    for dist in READ_PINS[env_name]:
        assert f"{dist}=={env.pin(dist)}" in packages, (dist, packages, init.stderr)

    # What the starter spec asks the seller to fill in before a build: sample records.
    (project / "validation").mkdir()
    shutil.copy2(model.model_dir / "sample_input.csv", project / "validation" / "input.csv")
    build = run_smkit("build", "smkit.yaml", cwd=project)
    assert build.returncode == 0, build.stderr[-6000:]
    image = build.stdout.strip().splitlines()[-1]

    inside = json.loads(docker.docker("run", "--rm", "--network", "none", "--entrypoint",
                                      "cat", image, "/opt/smkit/versions.json").stdout)
    image_versions = {k.lower().replace("_", "-"): v for k, v in inside["packages"].items()}
    for dist in READ_PINS[env_name]:
        assert image_versions.get(dist) == env.pin(dist), (dist, image_versions.get(dist))

    expected = model.expected
    body = model.input_csv.read_bytes()
    with docker.serve(image, project / "model", network="none", startup_timeout=90) as server:
        assert_same(invoke(server, body), expected["predictions"],
                    expected["predictions_dtype"], f"{model.name} predictions")
        assert_same(invoke(server, body, PROBABILITIES), expected["probabilities"],
                    expected["probabilities_dtype"], f"{model.name} probabilities")
