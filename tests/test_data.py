"""The dataset builder, end to end through the user-facing scripts, and its training-time view."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cyclegan_biz import sources
from cyclegan_biz.constants import PAD_VALUE
from cyclegan_biz.errors import MissingWeightsError, NoFaceError
from cyclegan_biz.sources import DOMAINS, GENDERS, iter_images, scan_folder
from cyclegan_biz.training import dataset as data
from cyclegan_biz.training.dataset import UnpairedImageDataset, align_photo, example_to_tensors, to_pil_mask
from cyclegan_biz.vision.geometry import CANONICAL_EYE_CENTER
from cyclegan_biz.vision.landmarks import Face, _mediapipe_groups

ROOT = Path(__file__).resolve().parents[1]
RESOLUTION = 64
COLUMNS = ["image", "face_mask", "person_mask", "valid_mask", "domain", "gender", "landmarks", "source", "licence",
           "original_file"]


def run_script(script: str, *args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "HF_DATASETS_CACHE": str(tmp / "hf-cache"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "GLOG_minloglevel": "2",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], cwd=tmp, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def folders(tmp_path_factory, example_photos, no_face_rgb):
    """casual/ (metadata.csv: one female, one unlabelled, one landscape) and business/ (no metadata.csv)."""
    root = tmp_path_factory.mktemp("photos")
    casual, business = root / "casual", root / "business"
    casual.mkdir()
    business.mkdir()
    f003, f010, m095, m110 = example_photos
    shutil.copy(f003, casual / "woman.jpg")
    shutil.copy(m095, casual / "man.jpg")
    Image.fromarray(no_face_rgb).save(casual / "landscape.png")
    (casual / "metadata.csv").write_text(
        "file_name,gender,source,licence\n"
        "woman.jpg,female,canada,CC BY 4.0\n"
        "man.jpg,,canada,CC BY 4.0\n"
        "landscape.png,,synthetic,CC0\n",
        encoding="utf-8",
    )
    (casual / "unlisted.jpg").write_bytes(f010.read_bytes())  # not in metadata.csv: ignored
    shutil.copy(f010, business / "a.jpg")
    (business / "sub").mkdir()
    shutil.copy(m110, business / "sub" / "b.JPG")
    (business / "broken.jpg").write_text("this is not a JPEG\n")
    (business / "notes.txt").write_text("not an image suffix: never listed\n")
    return casual, business


@pytest.fixture(scope="module")
def built(folders, tmp_path_factory):
    """The dataset written by scripts/prepare_dataset.py (64 px, half held out)."""
    casual, business = folders
    work = tmp_path_factory.mktemp("build")
    output = work / "dataset"
    result = run_script("prepare_dataset.py", "--casual", str(casual), "--business", str(business),
                        "--output", str(output), "--resolution", str(RESOLUTION), "--test-fraction", "0.5",
                        tmp=work)
    return output, result


# --- end to end ----------------------------------------------------------------------------------------------------
def test_prepare_dataset_summary(built):
    _, result = built
    summary = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert summary["found"] == 6
    assert summary["kept"] == 4
    assert summary["skipped"] == 2
    assert summary["skipped_by_reason"] == {"NoFaceError": 1, "UnreadableImageError": 1}


def test_dataset_loads_with_splits_and_columns(built):
    import datasets

    output, _ = built
    dataset = datasets.load_from_disk(str(output))
    assert set(dataset) == {"train", "test"}
    assert len(dataset["train"]) == 2 and len(dataset["test"]) == 2
    for split in dataset.values():
        assert split.column_names == COLUMNS
        assert split.features["domain"].names == DOMAINS
        assert split.features["gender"].names == GENDERS
        assert sorted(split["domain"]) == [0, 1]  # stratified: one of each domain per split


def test_dataset_rows(built, folders):
    import datasets

    output, _ = built
    casual, business = folders
    dataset = datasets.load_from_disk(str(output))
    rows = {Path(row["original_file"]).name: row for split in dataset.values() for row in split}
    assert set(rows) == {"woman.jpg", "man.jpg", "a.jpg", "b.JPG"}
    assert rows["woman.jpg"]["gender"] == GENDERS.index("female")
    assert rows["man.jpg"]["gender"] == -1  # empty in metadata.csv
    assert rows["a.jpg"]["gender"] == -1 and rows["b.JPG"]["gender"] == -1  # no metadata.csv
    assert rows["woman.jpg"]["domain"] == DOMAINS.index("casual")
    assert rows["b.JPG"]["domain"] == DOMAINS.index("business")
    assert rows["woman.jpg"]["source"] == "canada" and rows["woman.jpg"]["licence"] == "CC BY 4.0"
    assert rows["a.jpg"]["source"] == "business" and rows["a.jpg"]["licence"] == "unknown"
    assert rows["b.JPG"]["original_file"] == "business/sub/b.JPG"  # relative: no local paths leak
    for row in rows.values():
        image = np.asarray(row["image"])
        assert image.shape == (RESOLUTION, RESOLUTION, 3) and image.dtype == np.uint8
        face, person, valid = (np.asarray(row[k]) for k in ("face_mask", "person_mask", "valid_mask"))
        for mask in (face, person, valid):
            assert mask.shape == (RESOLUTION, RESOLUTION) and mask.dtype == np.uint8
        assert set(np.unique(face)) == {0, 255} and set(np.unique(valid)) == {0, 255}
        assert not face[valid == 0].any() and not person[valid == 0].any()
        assert (person[face == 255] > 127).mean() > 0.9
        landmarks = np.asarray(row["landmarks"], dtype=np.float32)
        assert landmarks.shape == (478, 2)
        assert 0.15 < face.mean() / 255 < 0.45
        # Landmarks are in crop coordinates of the canonical frame: eyes level, at the canonical eye centre.
        left, right = Face(landmarks, _mediapipe_groups()).eye_centers()
        np.testing.assert_allclose((left + right) / 2, np.array(CANONICAL_EYE_CENTER) * RESOLUTION, atol=0.6)
        assert abs(left[1] - right[1]) < 0.2


def test_report_lists_skipped_files_with_reasons(built, folders):
    output, _ = built
    casual, business = folders
    report = json.loads((output / "report.json").read_text(encoding="utf-8"))
    assert report["found"] == 6 and report["kept"] == 4 and report["skipped"] == 2
    skipped = {Path(f["original_file"]).name: f for f in report["skipped_files"]}
    assert set(skipped) == {"landscape.png", "broken.jpg"}
    assert skipped["landscape.png"]["reason"].startswith("NoFaceError:")
    assert skipped["landscape.png"]["source"] == "synthetic"
    assert skipped["broken.jpg"]["reason"].startswith("UnreadableImageError:")
    assert report["splits"]["train"]["total"] + report["splits"]["test"]["total"] == 4
    by_domain_gender: dict[str, int] = {}
    for split in report["splits"].values():
        for key, count in split["by_domain_gender"].items():
            by_domain_gender[key] = by_domain_gender.get(key, 0) + count
    assert by_domain_gender == {"casual/female": 1, "casual/unlabelled": 1, "business/unlabelled": 2}


def test_dataset_card(built):
    output, _ = built
    card = (output / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n")
    assert f"{RESOLUTION}x{RESOLUTION}" in card
    assert "Photos found: 6, kept: 4, skipped: 2" in card
    assert "NoFaceError: 1" in card and "UnreadableImageError: 1" in card
    assert "## Split `train` (2 crops)" in card and "## Split `test` (2 crops)" in card
    assert "| canada — CC BY 4.0 | 2 |" in card
    assert "| business — unknown | 2 |" in card


def test_preview_script_writes_a_grid(built, tmp_path):
    output, _ = built
    grid = tmp_path / "grid.png"
    result = run_script("preview_dataset.py", str(output), "--output", str(grid), "--count", "4", "--columns", "2",
                        tmp=tmp_path)
    assert "Wrote" in result.stdout
    with Image.open(grid) as image:
        # train holds one crop per domain: two tiles side by side.
        assert image.size == (2 * RESOLUTION, RESOLUTION)
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10  # not a blank canvas


def test_unpaired_dataset_over_the_built_split(built):
    import datasets

    output, _ = built
    split = datasets.load_from_disk(str(output))["train"]
    pairs = UnpairedImageDataset(split, size=32, flip=True, seed=1)
    assert len(pairs) == 1
    item = pairs[0]
    assert set(item) == {f"{k}_{s}" for k in ("image", "face_mask", "person_mask", "valid_mask", "gender")
                         for s in "ab"}
    assert item["image_a"].shape == (3, 32, 32) and item["face_mask_b"].shape == (1, 32, 32)
    assert item["image_a"].min() >= -1.0 and item["image_a"].max() <= 1.0
    with pytest.raises(ValueError, match="both domains"):
        UnpairedImageDataset(split.filter(lambda d: d == 0, input_columns="domain"), size=32)


# --- pieces ------------------------------------------------------------------------------------------------------
def test_scan_folder_reads_metadata_or_lists_images(folders):
    casual, business = folders
    listed = scan_folder(casual, "casual")
    assert [s.path.name for s in listed] == ["woman.jpg", "man.jpg", "landscape.png"]
    assert [s.gender for s in listed] == [0, -1, -1]
    assert listed[2].source == "synthetic" and listed[2].licence == "CC0"
    found = scan_folder(business, "business")
    assert sorted(s.path.name for s in found) == ["a.jpg", "b.JPG", "broken.jpg"]
    assert {(s.domain, s.gender, s.source, s.licence) for s in found} == {("business", -1, "business", "unknown")}
    with pytest.raises(FileNotFoundError):
        scan_folder(business / "missing", "business")


def test_gender_ids():
    assert [sources._gender_id(v) for v in ("female", " Male ", "", None, "other")] == [0, 1, -1, -1, -1]


def test_align_photo(example_photos):
    out = align_photo(example_photos[0], 96)
    assert out["image"].shape == (96, 96, 3) and out["image"].dtype == np.uint8
    valid = out["valid_mask"]
    assert set(np.unique(valid)) == {0, 1}
    pad = cv2.dilate(valid, np.ones((3, 3), np.uint8)) == 0  # away from the one-pixel bilinear seam
    assert pad.sum() > 0.1 * 96 * 96 and (out["image"][pad] == PAD_VALUE).all()
    assert not out["face_mask"][valid == 0].any() and not out["person_mask"][valid == 0].any()
    assert out["face_mask"].sum() > 0.1 * 96 * 96
    assert out["landmarks"].shape == (478, 2)
    with pytest.raises(NoFaceError):
        align_photo(np.full((120, 160, 3), 90, np.uint8), 96)


def test_to_pil_mask():
    mask = to_pil_mask(np.array([[0, 1], [0.5, 2.0]], dtype=np.float32))
    assert mask.mode == "L"
    assert np.asarray(mask).tolist() == [[0, 255], [128, 255]]


def test_example_to_tensors_scales_and_flips():
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :4] = 255
    face = np.zeros((8, 8), np.uint8)
    face[:, :4] = 255
    example = {"image": Image.fromarray(image), "face_mask": Image.fromarray(face),
               "person_mask": Image.fromarray(face // 2), "valid_mask": Image.fromarray(np.full((8, 8), 255, np.uint8)),
               "gender": -1}
    out = example_to_tensors(example, 8)
    assert out["image"].shape == (3, 8, 8)
    assert out["image"][:, :, :4].min() == 1.0 and out["image"][:, :, 4:].max() == -1.0
    assert set(out["face_mask"].unique().tolist()) == {0.0, 1.0}
    assert abs(out["person_mask"].max().item() - 127 / 255) < 1e-6
    assert out["gender"] == -1
    flipped = example_to_tensors(example, 8, flip=True)
    assert flipped["image"][:, :, 4:].min() == 1.0 and flipped["face_mask"][:, :, :4].max() == 0.0
    assert example_to_tensors(example, 4)["image"].shape == (3, 4, 4)


def test_iter_images(folders, monkeypatch):
    casual, business = folders
    found = iter_images([business])
    assert found == sorted(found) and {p.name for p in found} == {"a.jpg", "b.JPG", "broken.jpg"}
    monkeypatch.chdir(casual)
    assert [p.name for p in iter_images(["*.png"])] == ["landscape.png"]
    assert iter_images(["does-not-exist.jpg"]) == [Path("does-not-exist.jpg")]


def test_missing_weights_stop_the_build_instead_of_skipping_every_photo(folders, monkeypatch):
    from cyclegan_biz.vision import landmarks as face

    class NoWeights:
        name = "no-weights"

        def __init__(self):
            raise MissingWeightsError("put model.bin into /somewhere")

    monkeypatch.setitem(face._BACKENDS, "no-weights", NoWeights)
    casual, business = folders
    with pytest.raises(MissingWeightsError, match="model.bin"):
        data.build_dataset([casual], [business], resolution=32, backend="no-weights")
