"""The outfit measurements (cyclegan_biz.evaluation): clothes probe, seams, sharpness, re-composite test.

Fixtures: two public-domain US Congress portraits (tests/fixtures/ATTRIBUTION.md) and edits of them."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from cyclegan_biz.evaluation import recomposite as rc
from cyclegan_biz.evaluation.clothes_probe import clothes_probe, p_business
from cyclegan_biz.evaluation.portrait import Portrait
from cyclegan_biz.evaluation.references import real_ranges
from cyclegan_biz.evaluation.seams import joint_thresholds, seam_stats, within_real
from cyclegan_biz.evaluation.sharpness import sharpness_ratio
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.vision.landmarks import MESH_CHIN

FIXTURES = Path(__file__).parent / "fixtures"
PORTRAITS = ("us-congress-A000022.jpg", "us-congress-B001230.jpg")


@pytest.fixture(scope="module")
def portraits() -> dict[str, np.ndarray]:
    return {name: load_rgb_array(FIXTURES / name) for name in PORTRAITS}


def below_chin(rgb: np.ndarray, depth: float) -> tuple[Portrait, np.ndarray]:
    """The portrait and a boolean photo mask of everything ``depth`` face sizes or more below the chin."""
    portrait = Portrait.from_rgb(rgb)
    chin_y = portrait.face.points[MESH_CHIN][1]
    rows = np.arange(rgb.shape[0])[:, None] >= chin_y + depth * portrait.face.size()
    return portrait, np.broadcast_to(rows, rgb.shape[:2])


@pytest.mark.parametrize("name", PORTRAITS)
def test_real_portrait_passes_the_seam_check(portraits, name):
    assert within_real(seam_stats(Portrait.from_rgb(portraits[name]))) is True


@pytest.mark.parametrize(("depth", "gain"), [(0.1, 0.75), (0.2, 0.75), (0.3, 0.75), (0.15, 1.3)])
def test_straight_horizontal_cut_fails_the_seam_check(portraits, depth, gain):
    # Clothes and neck pasted with a straight cut across the neck, darker or brighter than the head's photo. (The
    # portrait with a bright collar just under a shadowed jaw hides cuts this mild: see the model card.)
    name = PORTRAITS[1]
    _, lower = below_chin(portraits[name], depth)
    cut = portraits[name].astype(np.float32)
    cut[lower] *= gain
    stats = seam_stats(Portrait.from_rgb(np.clip(cut, 0, 255).astype(np.uint8)))
    assert stats["seam_row_ratio"] > real_ranges()["seam"]["thresholds"]["seam_row_ratio"]
    assert within_real(stats) is False


def test_neck_of_another_colour_fails_the_skin_check(portraits):
    portrait, lower = below_chin(portraits[PORTRAITS[1]], 0.0)
    tinted = portraits[PORTRAITS[1]].astype(np.float32)
    tinted[lower] = tinted[lower] * (0.55, 0.75, 1.25)  # blue-grey skin under the chin, soft edge
    blend = cv2.GaussianBlur(lower.astype(np.float32), (0, 0), 0.15 * portrait.face.size())[..., None]
    mixed = blend * tinted + (1 - blend) * portraits[PORTRAITS[1]]
    stats = seam_stats(Portrait.from_rgb(np.clip(mixed, 0, 255).astype(np.uint8)))
    assert stats["skin_delta_ab"] > real_ranges()["seam"]["thresholds"]["skin_delta_ab"]


def test_clothes_probe_separates_suits_from_t_shirts(portraits, example_photos):
    # Real clothes: the two suit/blazer fixtures against the bundled examples in a dark T-shirt and a red top
    # (canada-095m, canada-110m; photos the probe never saw).
    suits = [Portrait.from_rgb(portraits[name]).clothes_region()[0] for name in PORTRAITS]
    casual = [Portrait.from_rgb(load_rgb_array(path)).clothes_region()[0] for path in example_photos
              if path.stem in ("canada-095m", "canada-110m")]
    p_suit, p_shirt = p_business(suits), p_business(casual)
    assert len(casual) == 2 and (p_suit >= 0.5).all() and (p_shirt < 0.5).all(), (p_suit, p_shirt)


def test_shipped_probe_never_saw_outfit_sources_or_its_test_set():
    info = clothes_probe().info
    trained = set(info["trained_on"])
    assert not any(name.startswith("business/us-congress-wiki/") for name in trained)
    assert not trained & set(real_ranges()["kid_reference"])
    assert not trained & set(info["near_duplicates_dropped"])
    assert info["held_out"]["balanced_accuracy"] > 0.85


def test_shipped_probe_never_saw_a_shipped_outfit():
    catalogue = pytest.importorskip("cyclegan_biz.wardrobe.catalogue")
    files = {Path(outfit.file).name for outfit in catalogue.load_wardrobe()}
    trained = clothes_probe().info["trained_on"] + real_ranges()["kid_reference"]
    assert not files & {Path(name).name for name in trained}


@pytest.mark.parametrize("name", PORTRAITS)
def test_sharpness_ratio_falls_when_the_clothes_are_blurred(portraits, name):
    portrait, lower = below_chin(portraits[name], 0.3)
    blurred = portraits[name].copy()
    blurred[lower] = cv2.GaussianBlur(portraits[name], (0, 0), 2.0)[lower]
    sharp, soft = sharpness_ratio(portrait), sharpness_ratio(Portrait.from_rgb(blurred))
    low, high = real_ranges()["sharpness"]["range"]
    assert soft < 0.7 * sharp
    assert low <= sharp <= high and soft < low


def test_joint_thresholds_keep_the_target_share_on_both_statistics():
    rng = np.random.default_rng(0)
    values = {"a": rng.normal(size=1000), "b": rng.exponential(size=1000)}
    values["b"][0] = math.nan  # left out
    limits = joint_thresholds(values, 0.9)
    inside = (values["a"] <= limits["a"]) & (values["b"] <= limits["b"])
    assert 0.9 <= inside[1:].mean() < 0.92
    assert limits["a"] > np.percentile(values["a"][1:], 90)  # each alone is stricter than the joint share


# --- re-composite test, with stand-in fitters (the real one is the pipeline: pipe(image, outfit=path)) ----------
FRAMING = np.array([[1.5, 0.0, -20.0], [0.0, 1.5, -10.0]])  # photo -> output: enlarge, shift


def _frame(image: np.ndarray) -> SimpleNamespace:
    size = (300, 380)  # the output canvas: the same whatever the input's height
    return SimpleNamespace(image=cv2.warpAffine(image, FRAMING, size, flags=cv2.INTER_LINEAR),
                           framing=SimpleNamespace(matrix=FRAMING))


def perfect_fit(image: np.ndarray, outfit: str) -> SimpleNamespace:
    """What an ideal fitter returns when it is given its own photo back: that photo, reframed."""
    return _frame(image)


def outfit_as_is(image: np.ndarray, outfit: str) -> SimpleNamespace:
    """Pastes the outfit photo's own pixels (unaltered neck included) under the head: no recolouring."""
    photo = load_rgb_array(outfit)
    chin_y = int(round(Portrait.from_rgb(photo).face.points[MESH_CHIN][1]))
    canvas = photo.copy()
    canvas[:min(chin_y, image.shape[0])] = image[:chin_y]
    return _frame(canvas)


@pytest.fixture(scope="module")
def recomposite_records():
    photo = FIXTURES / PORTRAITS[0]
    return {fit.__name__: rc.recomposite(photo, fit, ("exposure", "jpeg")) for fit in (perfect_fit, outfit_as_is)}


def _error(records, alteration, variant) -> float:
    return next(r["band_delta_e"] for r in records if r["alteration"] == alteration and r["variant"] == variant)


def test_recomposite_perfect_fit_scores_near_zero(recomposite_records):
    assert _error(recomposite_records["perfect_fit"], "exposure", "neck") < 1.0
    assert _error(recomposite_records["perfect_fit"], "jpeg", "neck") < 1.0
    # Without a neck the stand-in leaves the band empty: a large error.
    assert _error(recomposite_records["perfect_fit"], "exposure", "chin") > 10.0


def test_recomposite_penalises_an_outfit_not_recoloured_to_the_altered_head(recomposite_records):
    naive = recomposite_records["outfit_as_is"]
    assert _error(naive, "exposure", "neck") > 5.0  # its neck keeps the original exposure
    assert _error(naive, "jpeg", "neck") < _error(naive, "exposure", "neck")
    assert _error(naive, "exposure", "chin") == pytest.approx(_error(naive, "exposure", "neck"), abs=1.0)
    summary = rc.summarize(naive)
    assert summary["recomposite_failures"] == 0 and summary["recomposite_neck_delta_e"] > 2.0


def test_measure_folder_summarises_real_and_cut_portraits(tmp_path, portraits):
    from PIL import Image

    from cyclegan_biz.evaluation.outfit_metrics import measure_folder, outfit_section, summarize

    _, lower = below_chin(portraits[PORTRAITS[1]], 0.15)
    cut = portraits[PORTRAITS[1]].astype(np.float32)
    cut[lower] *= 0.75
    paths = [FIXTURES / name for name in PORTRAITS] + [tmp_path / "cut.png"]
    Image.fromarray(cut.astype(np.uint8)).save(paths[-1])
    records = measure_folder(paths, desc=None)
    assert [r["seam_within_real"] for r in records] == [True, True, False]
    assert [r["clothes_business"] for r in records[:2]] == [True, True]
    summary = summarize(records)
    assert summary["seam_within_real_share"] == pytest.approx(2 / 3)
    assert "Seams: share within" in outfit_section(summary)


def test_outfit_kept_finds_the_requested_outfit_and_notices_another():
    from cyclegan_biz.evaluation.outfit_kept import clothes_layout, kept_share, outfit_kept
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline

    pipe = SelfieToBusinessPipeline.from_pretrained(engine="torch", finisher=False)
    photo = Path(__file__).parents[1] / "cyclegan_biz" / "examples" / "canada-095m.jpg"
    candidates = ["suit-navy-10", "suit-charcoal-01", "suit-blue-01", "suit-black-01"]

    def fit(outfit_id: str) -> np.ndarray:
        return np.asarray(pipe(photo, outfit=outfit_id, size=256).image)

    def layout(outfit_id: str) -> np.ndarray:
        return clothes_layout(fit(outfit_id))

    same = outfit_kept(fit("suit-navy-10"), "suit-navy-10", layout, candidates)
    other = outfit_kept(fit("suit-blue-01"), "suit-navy-10", layout, candidates)
    assert same["kept"] and same["nearest"] == "suit-navy-10"
    assert not other["kept"] and other["nearest"] == "suit-blue-01"
    assert kept_share([same, other]) == 0.5
