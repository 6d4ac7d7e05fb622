"""The attire classifier behind ``attire="auto"`` (wardrobe/attire_classifier.py): shipped weights load offline, it
recognises the bundled examples and (when ../shared is there) most of eval/canada, and the user's choice wins."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cyclegan_biz import cli
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.pipeline import SelfieToBusinessPipeline
from cyclegan_biz.vision.landmarks import Face, detect_face
from cyclegan_biz.wardrobe.attire_classifier import (
    WEIGHTS_FILE,
    head_crop,
    load_attire_classifier,
    predict_attire,
)
from cyclegan_biz.wardrobe.vocabulary import ATTIRES, attire_for_gender

EXAMPLES = Path(cli.__file__).parent / "examples"
# The bundled examples (eval/canada, CC BY 4.0): f = female -> blazer, m = male -> suit. The classifier never saw them.
LABELLED_EXAMPLES = {"canada-003f.jpg": "blazer", "canada-010f.jpg": "blazer",
                     "canada-095m.jpg": "suit", "canada-110m.jpg": "suit"}
CANADA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "eval"


@pytest.fixture(scope="module")
def classifier():
    found = load_attire_classifier()
    assert found is not None, f"the package ships {WEIGHTS_FILE.name} and the feature network's weights"
    return found


def _photo_and_face(path: Path) -> tuple[np.ndarray, Face]:
    image = load_rgb_array(path)
    return image, detect_face(image)


def test_shipped_weights_are_small_safetensors(classifier):
    assert WEIGHTS_FILE.suffix == ".safetensors" and WEIGHTS_FILE.stat().st_size < 100_000
    info = classifier.info
    assert info["held_out"]["accuracy"] > 0.9 and "eval" not in info["trained_on"]


@pytest.mark.parametrize("name", sorted(LABELLED_EXAMPLES))
def test_bundled_examples(classifier, name):
    image, face = _photo_and_face(EXAMPLES / name)
    probabilities = classifier(image, face)
    assert set(probabilities) == set(ATTIRES) and abs(sum(probabilities.values()) - 1) < 1e-6
    assert max(probabilities, key=probabilities.get) == LABELLED_EXAMPLES[name], probabilities


def test_head_crop_is_the_aligned_face():
    image, face = _photo_and_face(EXAMPLES / "canada-095m.jpg")
    crop, points = head_crop(image, face, size=128)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    left, right = points[face.groups["eye_a"]].mean(axis=0), points[face.groups["eye_b"]].mean(axis=0)
    assert abs(left[1] - right[1]) < 0.01  # eyes levelled
    assert 0.3 < points[:, 0].mean() < 0.7


def test_landmarks_of_another_backend_fall_back(classifier):
    image, face = _photo_and_face(EXAMPLES / "canada-003f.jpg")
    few = Face(face.points[:68], {name: index[index < 68] for name, index in face.groups.items()})
    assert classifier(image, few) is None and predict_attire(image, few) is None


def test_onnx_features_match_torch():
    pytest.importorskip("onnxruntime")
    from cyclegan_biz.wardrobe import attire_classifier

    crop, _ = head_crop(*_photo_and_face(EXAMPLES / "canada-110m.jpg"))
    onnx_embed = attire_classifier._onnx_embedder()  # exported into the ONNX cache on first use
    assert onnx_embed is not None
    torch_features = attire_classifier._torch_embedder()(crop)
    assert torch_features.shape == (1280,)
    assert np.abs(onnx_embed(crop) - torch_features).max() < 1e-3 * np.abs(torch_features).max()


@pytest.mark.skipif(not (CANADA / "metadata.csv").exists(), reason="needs ../shared/datasets/eval")
def test_canada_accuracy_beats_chance_clearly(classifier):
    with open(CANADA / "metadata.csv", newline="") as handle:
        rows = [(CANADA / row["file_name"], attire_for_gender(row["gender"])) for row in csv.DictReader(handle)]
    rows = [row for row in rows if row[1]][::2]  # every other photo: 20 of the 40, both genders
    right = 0
    for path, attire in rows:
        probabilities = classifier(*_photo_and_face(path))
        right += max(probabilities, key=probabilities.get) == attire
    assert right / len(rows) >= 0.85, f"{right} of {len(rows)}"


@pytest.fixture(scope="module")
def pipe() -> SelfieToBusinessPipeline:
    return SelfieToBusinessPipeline.from_pretrained()


@pytest.mark.parametrize(("name", "expected"), [("canada-003f.jpg", "blazer"), ("canada-110m.jpg", "suit")])
def test_auto_attire_in_the_pipeline(pipe, name, expected):
    result = pipe(EXAMPLES / name, size=256)
    assert result.attire == expected and result.outfit.startswith(expected)
    assert result.attire_confidence > 0.5 and result.attire_probabilities[expected] == result.attire_confidence


def test_the_users_attire_wins(pipe):
    result = pipe(EXAMPLES / "canada-003f.jpg", attire="suit", size=256)
    assert result.attire == "suit" and result.outfit.startswith("suit") and result.attire_confidence is None


def test_labels_by_eye_fill_only_the_unlabelled_rows(load_script, tmp_path):
    script = load_script("train_attire_classifier")
    folder = tmp_path / "casual"
    folder.mkdir()
    (folder / "metadata.csv").write_text("file_name,domain,gender\na.jpg,casual,female\nb.jpg,casual,\nc.jpg,casual,\n")
    labels = tmp_path / "by_eye.csv"
    labels.write_text("# by eye\nfile_name,gender\ncasual/a.jpg,male\ncasual/b.jpg,male\n")
    by_eye = script.read_labels_by_eye(labels)
    assert by_eye == {"casual/a.jpg": "male", "casual/b.jpg": "male"}
    photos = script.labelled_photos(folder, by_eye)
    assert [(p.name, attire) for p, attire in photos] == [("a.jpg", "blazer"), ("b.jpg", "suit")]  # metadata wins
    assert [p.name for p, _ in script.labelled_photos(folder)] == ["a.jpg"]


def test_shipped_labels_by_eye_name_real_unlabelled_photos(load_script):
    script = load_script("train_attire_classifier")
    by_eye = script.read_labels_by_eye(script.LABELS_BY_EYE)
    assert len(by_eye) > 400 and set(by_eye.values()) == {"female", "male"}
    assert all(name.startswith("casual/web-portraits/") for name in by_eye)


def test_training_script_writes_a_classifier_that_loads(load_script, tmp_path, monkeypatch):
    import shutil

    from cyclegan_biz.wardrobe.attire_classifier import AttireClassifier

    script = load_script("train_attire_classifier")
    genders = {"blazer": "female", "suit": "male"}
    for domain, names in (("business", ["canada-003f.jpg", "canada-095m.jpg"]),
                          ("casual", ["canada-010f.jpg", "canada-110m.jpg"])):
        folder = tmp_path / "data" / domain
        folder.mkdir(parents=True)
        rows = ["file_name,domain,gender"]
        for name in names:
            shutil.copy(EXAMPLES / name, folder / name)
            rows.append(f"{name},{domain},{genders[LABELLED_EXAMPLES[name]]}")
        rows.append(f"unlabelled.jpg,{domain},")  # no gender: not a training example
        (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    output = tmp_path / "attire.safetensors"
    monkeypatch.setattr("sys.argv", ["train", "--data", str(tmp_path / "data"), "--output", str(output),
                                     "--cache", str(tmp_path / "features.npz")])
    assert script.main() == 0
    trained = AttireClassifier.load(output)
    assert trained.info["trained_on"] == ["business", "casual"] and "eval" not in trained.info
    assert sum(trained.info["n_train"].values()) + trained.info["held_out"]["n"] == 4
    copies = trained.info["degraded_copies"]
    assert copies >= 1 and trained.info["n_train_copies"] == copies * sum(trained.info["n_train"].values())
    assert trained.info["held_out_copies"]["n"] == copies * trained.info["held_out"]["n"]
    assert (tmp_path / f"features-{copies}copies.npz").exists()  # cached by the number of copies
