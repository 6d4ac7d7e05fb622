"""Cutting outfits from photos (mediapipe models, offline): the builder on a few business portraits, the
no-outfit error, colour names and the reproducible build."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cyclegan_biz.errors import NoOutfitError
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.vision.pose import detect_shoulders
from cyclegan_biz.wardrobe.appearance import colour_name, to_lab
from cyclegan_biz.wardrobe.builder import assess_photo, cut_outfit
from cyclegan_biz.wardrobe.collection import build_wardrobe, read_chosen, redistributable_portraits
from cyclegan_biz.wardrobe.outfit import ANCHOR_NAMES, read_outfits

BUSINESS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "business"
needs_business = pytest.mark.skipif(not (BUSINESS / "metadata.csv").exists(), reason="needs ../shared/datasets")
# Head-and-shoulders portraits, one per source: suit with tie, blazer.
SUIT = "uk-parliament/Adam_Afriyie_Portrait.webp"
BLAZER = "uk-parliament/Abtisam_Mohamed_Portrait.webp"


@pytest.fixture(scope="module")
def suit_photo() -> np.ndarray:
    return load_rgb_array(BUSINESS / SUIT)


@needs_business
def test_shoulders_of_a_portrait_are_usable(suit_photo):
    shoulders = detect_shoulders(suit_photo)
    assert shoulders is not None and shoulders.usable()
    assert shoulders.left[0] < shoulders.right[0]
    assert shoulders.width > 0.4 * suit_photo.shape[1]


@needs_business
def test_cut_outfit_from_a_business_portrait(suit_photo):
    cut = assess_photo(suit_photo, licence="CC BY 3.0", source="uk", file=SUIT)
    outfit = cut.outfit
    assert cut.problems == []
    assert outfit.clothes.dtype == np.uint8 and outfit.clothes.shape[2] == 4
    assert outfit.skin.shape == outfit.clothes.shape
    assert outfit.licence == "CC BY 3.0" and outfit.file == SUIT
    height, width = outfit.clothes.shape[:2]
    assert set(outfit.anchors) == set(ANCHOR_NAMES)
    for x, y in outfit.anchors.values():
        assert 0 <= x < width and 0 <= y < height
    chin_y = int(outfit.anchors["chin"][1])
    assert outfit.clothes[:chin_y, :, 3].max() == 0  # no head or hair in the clothes
    assert outfit.clothes[..., 3].mean() > 60  # the jacket fills the lower part
    alpha = outfit.clothes[..., 3]
    assert ((alpha > 0) & (alpha < 255)).any()  # soft edges
    assert outfit.skin[..., 3].max() == 255  # the neck is there
    assert outfit.attire == "suit" and outfit.tie and outfit.colour == "navy" and outfit.shirt == "white"
    assert abs(outfit.yaw) < 0.3 and 60 < outfit.face_size < 200


@needs_business
def test_blazer_without_tie():
    outfit = cut_outfit(load_rgb_array(BUSINESS / "uk-parliament/Lillian_Jones_Portrait.webp"), attire="blazer")
    assert outfit.attire == "blazer" and not outfit.tie and outfit.colour == "navy" and outfit.shirt == "light blue"


def test_tight_face_crop_has_no_outfit(example_rgb):
    with pytest.raises(NoOutfitError, match="shoulders"):
        cut_outfit(example_rgb)


def test_photo_without_a_person_has_no_outfit(no_face_rgb):
    with pytest.raises(NoOutfitError, match="face"):
        cut_outfit(no_face_rgb)


@pytest.mark.parametrize(
    ("rgb", "name"),
    [((20, 28, 55), "navy"), ((65, 65, 70), "charcoal"), ((15, 15, 15), "black"), ((250, 250, 250), "white"),
     ((110, 80, 55), "brown"), ((128, 128, 130), "grey"), ((170, 200, 230), "light blue")],
)
def test_colour_names(rgb, name):
    lab = to_lab(np.array([[rgb]], dtype=np.uint8))[0, 0]
    assert colour_name(lab) == name


@needs_business
def test_chosen_portraits_are_redistributable():
    allowed = {p.file for p in redistributable_portraits(BUSINESS)}
    chosen = read_chosen()
    assert chosen and all(choice.file in allowed for choice in chosen)
    assert len({(choice.file, choice.recolour) for choice in chosen}) == len(chosen)  # recoloured: a second outfit


@needs_business
def test_build_is_reproducible_from_a_chosen_list(tmp_path):
    chosen = tmp_path / "chosen.txt"
    chosen.write_text(f"# two\n{SUIT} suit\n{BLAZER} blazer tie  # a tie set by hand\n")
    built = build_wardrobe(BUSINESS, tmp_path / "out", chosen)
    assert [o.id for o in built] == ["suit-navy-01", "blazer-light-blue-01"]
    assert built[1].tie
    loaded = read_outfits(tmp_path / "out")
    assert [o.record() for o in loaded] == [o.record() for o in built]
    assert "Abtisam Mohamed" in (tmp_path / "out" / "ATTRIBUTION.md").read_text()
    assert "CC BY 3.0" in loaded[0].licence


def test_chosen_list_errors_name_the_line(tmp_path):
    chosen = tmp_path / "chosen.txt"
    for bad in (f"{SUIT} tuxedo", f"{SUIT} suit pin=3", f"{SUIT} suit tie no-tie", f"{SUIT} suit bow",
                f"{SUIT} suit colour=tartan", f"{SUIT} suit colour=brown colour=brown"):
        chosen.write_text(f"# a comment\n{bad}\n")
        with pytest.raises(ValueError, match="chosen.txt:2"):
            read_chosen(chosen)


def test_chosen_list_reads_tie_corrections_and_marked_pins(tmp_path):
    chosen = tmp_path / "chosen.txt"
    chosen.write_text(f"{SUIT} suit no-tie pin=150,238 pin=20.5,30  # by eye\n{SUIT} blazer\n"
                      f"{SUIT} suit colour=brown\n")
    first, second, third = read_chosen(chosen)
    assert (first.attire, first.tie, first.pins) == ("suit", False, ((150.0, 238.0), (20.5, 30.0)))
    assert (second.attire, second.tie, second.pins, second.recolour) == ("blazer", None, (), None)
    assert (third.attire, third.recolour) == ("suit", "brown")


@needs_business
def test_a_recoloured_jacket_keeps_shirt_tie_and_shape(suit_photo):
    plain = assess_photo(suit_photo, attribution="a portrait").outfit
    brown = assess_photo(suit_photo, attribution="a portrait", recolour="brown").outfit
    assert (plain.colour, brown.colour) == ("navy", "brown")
    assert (brown.shirt, brown.tie) == (plain.shirt, plain.tie) == ("white", True)
    assert brown.attribution == "a portrait" and brown.changes == "jacket recoloured brown" and not plain.changes
    assert brown.credit() == "a portrait, jacket recoloured brown"
    assert np.array_equal(brown.clothes[..., 3], plain.clothes[..., 3])  # the same cut
    assert brown.anchors == plain.anchors
    # the shirt and tie just under the collar, between the neck points, are left alone
    (lx, ly), (rx, ry) = plain.anchors["neck_left"], plain.anchors["neck_right"]
    x0, x1 = int(lx + 0.15 * (rx - lx)), int(rx - 0.15 * (rx - lx))
    y = int(max(ly, ry) + 0.1 * plain.face_size)
    shirt = plain.clothes[y: y + 3, x0:x1]
    assert (shirt[..., 3] == 255).all() and (shirt[..., :3].min(axis=-1) > 200).mean() > 0.25  # shirt
    assert np.array_equal(brown.clothes[y: y + 3, x0:x1], shirt)


@needs_business
def test_a_jacket_not_recoloured_enough_is_refused(suit_photo, monkeypatch):
    from cyclegan_biz.wardrobe import builder

    with pytest.raises(ValueError, match="tartan"):
        assess_photo(suit_photo, recolour="tartan")  # refused before any work
    monkeypatch.setattr(builder, "MIN_RECOLOURED", 1.01)  # no jacket is ever recoloured that well
    with pytest.raises(ValueError, match="could not be recoloured brown"):
        assess_photo(suit_photo, recolour="brown")


def test_a_marked_pin_is_painted_over_with_jacket(suit_photo, monkeypatch):
    from cyclegan_biz.wardrobe import pins

    plain = assess_photo(suit_photo).outfit
    anchors = plain.anchors
    # a white dot on the jacket, between the collar and the right shoulder, marked by eye
    x = (anchors["neck_right"][0] + anchors["shoulder_right"][0]) / 2
    y = (anchors["neck_right"][1] + anchors["shoulder_right"][1]) / 2
    offset = _layer_offset(suit_photo, plain)
    spot = (int(x + offset[0]), int(y + offset[1]))
    marked = suit_photo.copy()
    cv2.circle(marked, spot, max(2, int(0.04 * plain.face_size)), (250, 250, 250), -1)
    # a pin the finder misses: only the mark can remove it
    monkeypatch.setattr(pins, "find_pins", lambda lab, *args: np.zeros(lab.shape[:2], bool))
    missed = assess_photo(marked).outfit.clothes
    cut = assess_photo(marked, pins=[spot])
    layer = cut.outfit.clothes
    px, py = int(spot[0] - offset[0]), int(spot[1] - offset[1])
    painted = layer[py - 1: py + 2, px - 1: px + 2, :3].reshape(-1, 3).astype(float).mean(axis=0)
    around = plain.clothes[py - 1: py + 2, px - 1: px + 2, :3].reshape(-1, 3).astype(float).mean(axis=0)
    assert missed[py, px, :3].min() > 200  # unmarked, the dot stays
    assert cut.pins_removed == 1
    assert np.abs(painted - around).max() < 40  # jacket again, not the white dot (250)


def _layer_offset(photo: np.ndarray, outfit) -> np.ndarray:
    """Photo pixels of the clothes layer's (0, 0): the chin anchor against the face mesh's chin."""
    from cyclegan_biz.vision.landmarks import detect_face

    chin = detect_face(photo).points[152]
    return chin - np.array(outfit.anchors["chin"])


@needs_business
def test_outfit_from_photo_is_cached_by_content(tmp_path):
    import shutil

    from cyclegan_biz.wardrobe import builder

    builder.forget_outfit_photos()  # the cache keeps the first name a photo came with: start empty
    first = tmp_path / "a.webp"
    shutil.copy(BUSINESS / SUIT, first)
    second = tmp_path / "b.webp"
    shutil.copy(BUSINESS / SUIT, second)
    outfit = builder.outfit_from_photo(first, attire="suit")
    assert outfit.id == "photo:a.webp" and outfit.attire == "suit"
    assert builder.outfit_from_photo(second, attire="suit") is outfit  # same bytes, not cut again


def test_outfit_from_missing_or_faceless_photo(tmp_path, no_face_rgb):
    from PIL import Image

    from cyclegan_biz.wardrobe.builder import outfit_from_photo

    with pytest.raises(NoOutfitError, match="Cannot read"):
        outfit_from_photo(tmp_path / "missing.jpg")
    landscape = tmp_path / "landscape.png"
    Image.fromarray(no_face_rgb).save(landscape)
    with pytest.raises(NoOutfitError, match="face"):
        outfit_from_photo(landscape)


@needs_business
def test_large_outfit_photos_are_cut_at_a_bounded_size(suit_photo):
    import cv2

    from cyclegan_biz.wardrobe.builder import MAX_PHOTO_SIDE

    large = cv2.resize(suit_photo, (1600, 1600), interpolation=cv2.INTER_CUBIC)
    outfit = cut_outfit(large)
    assert max(outfit.clothes.shape[:2]) <= MAX_PHOTO_SIDE
    assert outfit.face_size > 300  # measured on the scaled photo, in layer pixels


@needs_business
def test_candidates_pass_filters_and_rejections_are_counted():
    from cyclegan_biz.wardrobe.collection import contact_sheet, find_candidates

    wanted = {SUIT, BLAZER, "us-congress/A000014.jpg"}  # the last: a shoulder outside the photo
    portraits = [p for p in redistributable_portraits(BUSINESS) if p.file in wanted]
    cuts, reasons = find_candidates(portraits)
    assert sorted(cut.outfit.file for cut in cuts) == sorted([SUIT, BLAZER])
    assert reasons == {"No shoulders found in the outfit photo": 1}
    sheet = contact_sheet([cut.outfit for cut in cuts], columns=2, tile=64)
    assert sheet.width == 128


@needs_business
def test_build_script_writes_the_wardrobe(tmp_path):
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    chosen = tmp_path / "chosen.txt"
    chosen.write_text(f"{SUIT} suit\n")
    command = [sys.executable, str(root / "scripts" / "build_wardrobe.py"), "--business", str(BUSINESS),
               "--output", str(tmp_path / "out"), "--chosen", str(chosen)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout[: proc.stdout.rindex("}") + 1])
    assert report["outfits"] == 1 and report["attire"] == {"suit": 1}
    assert (tmp_path / "out" / "suit-navy-01.webp").exists()


def test_pins_inside_the_jacket_are_found_but_not_the_shirt_beside_it():
    from cyclegan_biz.wardrobe.pins import find_pins

    rgb = np.zeros((100, 100, 3), dtype=np.uint8)
    rgb[:] = (25, 30, 60)  # navy jacket
    rgb[40:46, 60:66] = (230, 200, 60)  # a gold pin on the lapel
    rgb[:, :20] = (245, 245, 245)  # the shirt beside the jacket
    area = np.ones((100, 100), dtype=bool)
    lab = to_lab(rgb)
    pins = find_pins(lab, area, np.median(lab[:, 50:].reshape(-1, 3), axis=0), fs=60.0)
    assert pins[40:46, 60:66].all()
    assert not pins[:, :20].any() and pins.sum() == 36


def test_transparent_layer_pixels_carry_the_nearest_visible_colour():
    from cyclegan_biz.wardrobe.builder import _layer

    rgb = np.random.default_rng(0).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    alpha = np.zeros((50, 60), dtype=np.float32)
    alpha[20:30, 10:20] = 1.0
    layer = _layer(rgb, alpha)
    assert np.array_equal(layer[20:30, 10:20, :3], rgb[20:30, 10:20]) and layer[20:30, 10:20, 3].min() == 255
    assert np.array_equal(layer[0, 0, :3], rgb[20, 10]) and np.array_equal(layer[49, 59, :3], rgb[29, 19])
    assert np.array_equal(layer[25, 40, :3], rgb[25, 19])  # what was there (head, background) is gone


@needs_business
def test_cut_layers_keep_nothing_of_the_head(suit_photo):
    outfit = cut_outfit(suit_photo)
    for layer in (outfit.clothes, outfit.skin):
        codes = layer[..., :3].astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
        visible = layer[..., 3] > 0
        # Transparent pixels only repeat colours of the outfit itself, none of the face or background.
        assert np.isin(codes[~visible], codes[visible]).all()


def test_users_outfit_photo_without_seen_shoulders_is_cut_with_estimated_ones(suit_photo, monkeypatch):
    from cyclegan_biz.vision.landmarks import detect_face
    from cyclegan_biz.wardrobe import builder

    monkeypatch.setattr(builder, "detect_shoulders", lambda photo: None)  # the pose model sees no one
    with pytest.raises(NoOutfitError, match="No shoulders"):
        assess_photo(suit_photo)  # the wardrobe needs shoulders the pose model saw
    outfit = cut_outfit(suit_photo)  # a user's outfit photo: the usual place under the face
    face = detect_face(suit_photo)
    offset = face.points[152] - np.array(outfit.anchors["chin"])
    left = np.array(outfit.anchors["shoulder_left"]) + offset - face.points[152]
    right = np.array(outfit.anchors["shoulder_right"]) + offset - face.points[152]
    size = face.size()
    assert np.allclose(left / size, [-builder.SHOULDER_HALF_WIDTH, builder.SHOULDER_DROP], atol=0.01)
    assert np.allclose(right / size, [builder.SHOULDER_HALF_WIDTH, builder.SHOULDER_DROP], atol=0.01)
    assert outfit.clothes[..., 3].mean() > 50  # a jacket was cut
