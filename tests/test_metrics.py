"""Metrics on synthetic and known cases, and an end-to-end run of scripts/evaluate.py on the bundled examples."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cyclegan_biz import evaluation as metrics
from cyclegan_biz.evaluation.features import FeatureExtractor
from cyclegan_biz.evaluation.folders import pair_by_stem, read_gender_labels
from cyclegan_biz.evaluation.identity import identity_summary
from cyclegan_biz.evaluation.probes import DOMAIN_CLASSES, LinearProbe, cached_probe, expected_attire, fit_with_holdout
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.sources import scan_folder
from cyclegan_biz.vision.landmarks import detect_face, face_mask
from cyclegan_biz.vision.segmentation import person_mask

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "cyclegan_biz" / "examples").glob("*.jpg"))
DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def woman() -> np.ndarray:
    return load_rgb_array(ROOT / "cyclegan_biz/examples/canada-003f.jpg")


@pytest.fixture(scope="module")
def man() -> np.ndarray:
    return load_rgb_array(ROOT / "cyclegan_biz/examples/canada-095m.jpg")


# --- KID / FID ---
def test_kid_is_about_zero_for_identical_sets_and_grows_with_the_difference():
    rng = np.random.default_rng(0)
    x = rng.random(size=(300, 64))  # non-negative, like the network's ReLU6 features
    same = metrics.kid(x, x.copy(), seed=1)
    near = metrics.kid(x, rng.random(size=(300, 64)) + 0.1, seed=1)
    far = metrics.kid(x, rng.random(size=(300, 64)) + 0.3, seed=1)
    assert abs(same["mean"]) < 0.005  # not exactly 0: subsets of one set share points
    assert near["mean"] > 10 * abs(same["mean"])
    assert far["mean"] > 5 * near["mean"]
    assert same["subset_size"] == 100 and same["std"] >= 0


def test_kid_subset_size_adapts_to_small_sets():
    rng = np.random.default_rng(0)
    small = metrics.kid(rng.normal(size=(12, 8)), rng.normal(2.0, 1.0, size=(500, 8)))
    assert small["subset_size"] == 12 and small["mean"] > 0
    assert math.isnan(metrics.kid(np.ones((1, 8)), np.ones((5, 8)))["mean"])


def test_fid_is_zero_for_identical_sets_and_the_squared_shift_for_a_translated_set():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 32)) @ rng.normal(size=(32, 32))
    shift = np.full(32, 0.5)
    assert metrics.fid(x, x) == pytest.approx(0.0, abs=1e-6)
    assert metrics.fid(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-4)
    assert metrics.fid(x, 2.0 * x) > 1.0  # different spread, same mean
    assert metrics.fid(x[:20], x[20:40] + 3.0) > metrics.fid(x[:20], x[20:40])  # fewer images than dimensions


@pytest.mark.parametrize("n", [20, 200])  # fewer and more images than the 32 dimensions: the two code paths
def test_fid_matches_the_textbook_formula(n):
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(n)
    x = rng.random((n, 32)) @ rng.random((32, 32))
    y = rng.random((n + 7, 32)) @ rng.random((32, 32)) + 0.2
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    diff = x.mean(0) - y.mean(0)
    expected = diff @ diff + np.trace(cov_x + cov_y - 2 * linalg.sqrtm(cov_x @ cov_y).real)
    assert metrics.fid(x, y) == pytest.approx(expected, rel=1e-5, abs=1e-6)


# --- background uniformity ---
def test_background_std_is_zero_for_a_flat_background_and_positive_for_noise():
    rng = np.random.default_rng(0)
    image = np.full((128, 128, 3), 120, np.uint8)
    mask = np.zeros((128, 128), np.float32)
    mask[32:96, 40:88] = 1.0  # the "person"
    image[32:96, 40:88] = rng.integers(0, 255, size=(64, 48, 3))
    assert metrics.background_std(image, mask) == 0.0
    noisy = image.copy()
    noisy[mask < 0.5] = rng.integers(0, 255, size=(int((mask < 0.5).sum()), 3))
    assert metrics.background_std(noisy, mask) > 50
    assert math.isnan(metrics.background_std(image, np.ones((128, 128))))  # no background at all


def test_background_std_with_the_person_segmenter(woman):
    mask = person_mask(woman) >= 0.5
    flat, noisy = woman.copy(), woman.copy()
    flat[~mask] = (90, 110, 140)
    rng = np.random.default_rng(0)
    noisy[~mask] = np.clip(flat[~mask] + rng.normal(0, 40, size=(int((~mask).sum()), 3)), 0, 255).astype(np.uint8)
    assert metrics.background_std(flat) < 5
    assert metrics.background_std(noisy) > metrics.background_std(flat) + 10


# --- identity ---
def test_identity_distance_is_zero_for_the_same_photo_and_large_for_another_person(woman, man):
    assert metrics.identity_distance(woman, woman) == pytest.approx(0.0, abs=1e-6)
    shrunk = np.asarray(Image.fromarray(woman).resize((woman.shape[1] // 2, woman.shape[0] // 2)))
    assert metrics.identity_distance(woman, shrunk) < metrics.SAME_PERSON_THRESHOLD
    assert metrics.identity_distance(woman, man) > metrics.SAME_PERSON_THRESHOLD


def test_identity_counts_an_output_without_a_face(woman):
    result = metrics.identity(woman, np.full((300, 300, 3), 127, np.uint8))
    assert result["input_face_found"] and not result["output_face_found"]
    assert math.isnan(result["identity_distance"])
    records = [{**result}, {"identity_distance": 0.2, "input_face_found": True, "output_face_found": True}]
    summary = identity_summary(records)
    assert summary["identity_distance_mean"] == pytest.approx(0.2)
    assert summary["identity_same_person_share"] == 0.5 and summary["identity_no_face_output"] == 1


# --- face preservation ---
def test_face_preservation_is_zero_for_identical_images_and_grows_with_face_changes(woman):
    assert metrics.face_preservation_error(woman, woman) == 0.0
    inside = face_mask(woman.shape, detect_face(woman)).astype(bool)
    rng = np.random.default_rng(0)
    errors = []
    for strength in (8, 40):
        altered = woman.astype(np.int16)
        altered[inside] += rng.normal(0, strength, size=(int(inside.sum()), 3)).astype(np.int16)
        errors.append(metrics.face_preservation_error(woman, np.clip(altered, 0, 255).astype(np.uint8)))
    assert 0 < errors[0] < errors[1] and errors[1] > 15
    assert math.isnan(metrics.face_preservation_error(woman, np.full((256, 256, 3), 127, np.uint8)))


def test_face_core_error_measures_changes_through_the_pipelines_framing(woman):
    from cyclegan_biz.evaluation.appearance import face_core_error
    from cyclegan_biz.vision.geometry import Framing

    matrix = np.array([[1.7, 0.1, -30.0], [-0.1, 1.7, -10.0]])  # enlarged, a little rotated and shifted
    frame = Framing(matrix, 600, 700)
    output = frame.warp(woman)
    assert face_core_error(woman, output, matrix) < 0.01  # the same pixels, resampled the pipeline's way
    face = detect_face(output)
    changed = output.astype(np.int16)
    changed[face_mask(output.shape, face).astype(bool)] += 12  # the whole face 12 levels lighter
    assert 11 < face_core_error(woman, np.clip(changed, 0, 255).astype(np.uint8), matrix) < 12.5
    assert math.isnan(face_core_error(np.full((256, 256, 3), 127, np.uint8), output, matrix))  # no face in input


# --- linear probes ---
def _two_blobs(n0: int, n1: int, dim: int = 40, gap: float = 1.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    x = np.concatenate([rng.normal(size=(n0, dim)), rng.normal(size=(n1, dim)) + 2 * gap * direction])
    return x, np.array([0] * n0 + [1] * n1)


def test_logistic_probe_separates_classes_and_round_trips(tmp_path):
    x, y = _two_blobs(200, 200, gap=2.5)  # Bayes accuracy 99.4 %
    probe = fit_with_holdout(x, y, ("casual", "business"))
    assert probe.info["held_out"]["accuracy"] > 0.95
    loaded = LinearProbe.load(probe.save(tmp_path / "probe.safetensors"))
    assert loaded.classes == ("casual", "business") and loaded.info["held_out"] == probe.info["held_out"]
    np.testing.assert_allclose(loaded.predict_proba(x), probe.predict_proba(x))
    shuffled = fit_with_holdout(x, np.random.default_rng(1).permutation(y), ("a", "b"))
    assert shuffled.info["held_out"]["accuracy"] < 0.75  # no signal, no accuracy


def test_balanced_probe_does_not_ignore_the_minority_class():
    x, y = _two_blobs(400, 25, gap=0.9)
    balanced = LinearProbe.fit(x, y, ("suit", "blazer"), balanced=True)
    plain = LinearProbe.fit(x, y, ("suit", "blazer"), balanced=False)
    minority_recall = [float(np.mean(p.predict(x[y == 1]) == 1)) for p in (balanced, plain)]
    assert minority_recall[0] >= minority_recall[1] and minority_recall[0] > 0.8
    with pytest.raises(ValueError):
        LinearProbe.fit(x[:5], np.zeros(5, int), ("a", "b"))


def test_held_out_split_is_stratified_and_keeps_each_class():
    x, y = _two_blobs(80, 20, gap=2.5)
    probe = fit_with_holdout(x, y, ("a", "b"), test_fraction=0.25)
    assert probe.info["held_out"]["n"] == 25 and probe.info["n_train"] == {"a": 60, "b": 15}
    tiny = fit_with_holdout(x[[0, 1, 80, 81]], y[[0, 1, 80, 81]], ("a", "b"))  # one held-out photo per class
    assert tiny.info["held_out"]["n"] == 2 and tiny.info["n_train"] == {"a": 1, "b": 1}


def test_copies_of_held_out_rows_are_scored_not_trained_on():
    x, y = _two_blobs(80, 20, gap=2.5)
    rng = np.random.default_rng(3)
    source = np.repeat(np.arange(len(y)), 2)  # two copies of every row, e.g. degraded photos
    copies = x[source] + rng.normal(scale=0.3, size=(len(source), x.shape[1]))
    probe = fit_with_holdout(x, y, ("a", "b"), test_fraction=0.25, copies=(copies, source))
    assert probe.info["n_train"] == {"a": 60, "b": 15} and probe.info["n_train_copies"] == 150
    assert probe.info["held_out_copies"]["n"] == 50 and probe.info["held_out_copies"]["accuracy"] > 0.9
    plain = fit_with_holdout(x, y, ("a", "b"), test_fraction=0.25)
    assert plain.info["held_out"]["n"] == probe.info["held_out"]["n"] and "held_out_copies" not in plain.info


def test_probe_probabilities_are_those_of_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _two_blobs(60, 40, gap=0.8)
    probe = LinearProbe.fit(x, y, ("a", "b"), l2=0.05)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=1 / (0.05 * len(y)), class_weight="balanced",
                                                                   max_iter=1000)).fit(x, y)
    np.testing.assert_allclose(probe.predict_proba(x), reference.predict_proba(x)[:, 1], atol=1e-9)


def test_kid_and_fid_take_the_effnet_features_module_as_torchmetrics_feature_network():
    torch = pytest.importorskip("torch")
    from torchmetrics.image.fid import FrechetInceptionDistance

    from cyclegan_biz.evaluation.features import _feature_module, feature_input

    module = _feature_module()
    images = torch.from_numpy(np.stack([feature_input(p) for p in EXAMPLES])).permute(0, 3, 1, 2)
    metric = FrechetInceptionDistance(feature=module)
    metric.update(images[:2], real=True)
    metric.update(images[2:], real=False)
    features = module(images).numpy()
    assert float(metric.compute()) == pytest.approx(metrics.fid(features[2:], features[:2]), rel=1e-4)


def test_probe_and_feature_caches_skip_work_when_nothing_changed(tmp_path):
    files = []
    for i, value in enumerate((10, 200, 30, 220)):
        files.append(tmp_path / f"{i}.png")
        Image.new("RGB", (40, 40), (value,) * 3).save(files[-1])
    calls = []

    def fake_extractor(paths, total=None, desc=None):
        paths = list(paths)
        calls.append(len(paths))
        return np.array([[np.asarray(Image.open(p))[0, 0, 0] / 255.0, 1.0] for p in paths], np.float32)

    cache = tmp_path / "features.npz"
    first = metrics.embed_files(files, fake_extractor, cache)
    again = metrics.embed_files(files[:2], fake_extractor, cache)
    assert calls == [4] and np.array_equal(first[:2], again)

    def features():
        return metrics.embed_files(files, fake_extractor, cache)

    probe_path = tmp_path / "probe.safetensors"
    fitted = cached_probe(probe_path, files, [0, 1, 0, 1], ("casual", "business"), features)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LinearProbe, "fit", lambda *a, **k: pytest.fail("refitted although cached"))
        cached = cached_probe(probe_path, files, [0, 1, 0, 1], ("casual", "business"), features)
    np.testing.assert_allclose(cached.weight, fitted.weight)
    relabelled = cached_probe(probe_path, files, [1, 0, 1, 0], ("casual", "business"), features)
    assert relabelled.info["fingerprint"] != fitted.info["fingerprint"]


@pytest.mark.skipif(not DATASETS.is_dir(), reason=f"real photos not available at {DATASETS}")
def test_domain_probe_on_a_few_dozen_real_photos_scores_its_training_domains():
    rng = np.random.default_rng(0)
    casual = [s.path for s in scan_folder(DATASETS / "casual", "casual")]
    business = [s.path for s in scan_folder(DATASETS / "business", "business")]
    paths = list(rng.choice(casual, 16, replace=False)) + list(rng.choice(business, 16, replace=False))
    labels = np.array([0] * 16 + [1] * 16)
    features = metrics.embed_files(paths, FeatureExtractor())
    assert features.shape == (32, 1280)
    probe = LinearProbe.fit(features, labels, DOMAIN_CLASSES)
    assert np.mean(probe.predict(features) == labels) > 0.9


# --- folders, labels, end to end ---
def test_pairing_labels_and_expected_attire(tmp_path):
    (tmp_path / "in").mkdir()
    with (tmp_path / "metadata.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file_name", "domain", "gender"])
        writer.writerows([["in/a.jpg", "eval", "female"], ["in/b.jpg", "eval", ""]])
    labels = read_gender_labels(tmp_path / "in")
    assert labels == {(tmp_path / "in/a.jpg").resolve(): "female"}
    pairs, unmatched = pair_by_stem([Path("out/a.png"), Path("out/c.png")], [Path("in/a.jpg")])
    assert [(p.name, p.source) for p in pairs] == [("a", Path("in/a.jpg"))] and unmatched == ["c"]
    assert expected_attire("auto", "female") == "blazer"
    assert expected_attire("auto", None) is None
    assert expected_attire("suit", "female") == "suit"


def _photo_folder(folder: Path, images: list[Path], flip: bool = False, genders: bool = False) -> Path:
    folder.mkdir(parents=True)
    rows = []
    for path in images:
        image = Image.open(path)
        (image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if flip else image).save(folder / path.name)
        rows.append([path.name, "x", {"f": "female", "m": "male"}[path.stem[-1]] if genders else ""])
    with (folder / "metadata.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["file_name", "domain", "gender"], *rows])
    return folder


@pytest.fixture(scope="module")
def evaluate_script(load_script):
    return load_script("evaluate")


@pytest.fixture(scope="module")
def tiny_training_sets(tmp_path_factory) -> list[str]:
    """Stand-ins for the real training folders (4 photos each), and a probe cache shared by the end-to-end runs."""
    root = tmp_path_factory.mktemp("training")
    casual = _photo_folder(root / "casual", EXAMPLES, flip=True)
    business = _photo_folder(root / "business", EXAMPLES, genders=True)
    return ["--reference", str(business), "--train-casual", str(casual), "--train-business", str(business),
            "--cache-dir", str(root / "cache"), "--datasets", str(root)]  # no fixed KID reference there: skipped


def test_evaluate_script_end_to_end(tmp_path, evaluate_script, tiny_training_sets):
    generated = _photo_folder(tmp_path / "generated", EXAMPLES)
    output = tmp_path / "report"
    evaluate_script.main(["--generated", str(generated), "--selfies", str(generated), "--output", str(output),
                          "--attire", "suit", "--limit", "3", *tiny_training_sets])
    result = json.loads((output / "metrics.json").read_text())
    summary = result["summary"]
    assert summary["n_outputs"] == 3 and summary["kid_subset_size"] == 3
    assert summary["identity_same_person_share"] == 1.0 and summary["face_preservation_mae_mean"] == 0.0
    assert summary["face_core_error_mean"] is None  # generated images: the framing is not known
    assert summary["kid_effnet_lite0"] == summary["kid_effnet_lite0_inputs"]
    assert all(r["expected_attire"] == "suit" for r in result["per_image"])
    assert "Not Inception FID/KID" in (output / "report.md").read_text()
    assert "Outfit measurements" in (output / "report.md").read_text()
    assert summary["kid_effnet_lite0_fixed_reference"] is None and summary["seam_within_real_share"] is not None
    sheet = Image.open(output / "contact_sheet.png")
    assert sheet.width == 3 * 2 * 192 and sheet.height > 192


def test_fixed_reference_kid_reuses_the_output_features(tmp_path, evaluate_script, tiny_training_sets, monkeypatch):
    """The fixed-reference KID is that of the outputs' features against the reference's, and the outputs go through
    the feature network once per region (not once more for that KID)."""
    from cyclegan_biz.evaluation import features
    from cyclegan_biz.evaluation.references import kid_reference_files

    datasets = tmp_path / "datasets"
    reference = kid_reference_files(datasets)[:3]
    for path, photo in zip(reference, EXAMPLES, strict=False):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.open(photo).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(path)  # real, and unlike the outputs
    generated = _photo_folder(tmp_path / "generated", EXAMPLES)
    selfies = _photo_folder(tmp_path / "selfies", EXAMPLES)  # inputs in their own files: counted apart
    seen: list[tuple[Path, str]] = []
    feature_input = features.feature_input

    def counted(image, size=features.FEATURE_SIZE, region="full"):
        seen.append((Path(image), region))
        return feature_input(image, size, region)

    monkeypatch.setattr(features, "feature_input", counted)
    output = tmp_path / "report"
    evaluate_script.main(["--generated", str(generated), "--selfies", str(selfies), "--output", str(output),
                          "--limit", "3", *tiny_training_sets, "--datasets", str(datasets)])
    result = json.loads((output / "metrics.json").read_text())
    outputs = [Path(r["output"]) for r in result["per_image"]]
    assert all(seen.count((path, region)) == 1 for path in outputs for region in ("full", "torso"))
    expected = metrics.kid(FeatureExtractor()(outputs), FeatureExtractor()(reference), seed=0)  # the former way
    assert result["summary"]["kid_effnet_lite0_fixed_reference"] == pytest.approx(expected["mean"], rel=1e-6)
    assert result["summary"]["n_fixed_reference"] == 3


def test_evaluate_script_translates_with_a_model(tmp_path, evaluate_script, tiny_training_sets):
    from cyclegan_biz.testing import make_random_model

    make_random_model(tmp_path / "model", discriminator=None)
    selfies = _photo_folder(tmp_path / "selfies", EXAMPLES[:2], genders=True)
    output = tmp_path / "report"
    evaluate_script.main(["--model", str(tmp_path / "model"), "--selfies", str(selfies), "--size", "128",
                          "--output", str(output), *tiny_training_sets])
    result = json.loads((output / "metrics.json").read_text())
    assert sorted(p.name for p in (output / "generated").iterdir()) == [f"{p.stem}.png" for p in EXAMPLES[:2]]
    assert result["summary"]["n_outputs"] == 2 and result["summary"]["attire_compared"] == 2
    assert all(r["pipeline_attire"] in ("suit", "blazer") for r in result["per_image"])
    # the face core is the photo's own (mapped by the framing each translation recorded): resampling only
    assert all(len(r["pipeline_framing"]) == 2 for r in result["per_image"])
    assert 0 <= result["summary"]["face_core_error_mean"] < 2
    assert (output / "contact_sheet.png").is_file()
