"""The outfit path: placement, fitting on synthetic and real heads, custom outfits, the headshot frame, the CLI
listing, and ``outfit="keep"``/``"none"``. Uses the bundled model and example photos (offline)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from cyclegan_biz import cli
from cyclegan_biz.compose import FaceBlend
from cyclegan_biz.compose import face_alpha as feathered_face
from cyclegan_biz.errors import CycleBizError, NoOutfitError
from cyclegan_biz.evaluation.references import real_ranges
from cyclegan_biz.headshot_frame import FRAME_TARGETS, HeadTop, head_top, headshot_framing
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.pipeline import SelfieToBusinessPipeline
from cyclegan_biz.pipeline.outfit_path import mirror_rows, mirrored_below
from cyclegan_biz.vision.geometry import Framing
from cyclegan_biz.vision.landmarks import Face, detect_face, face_mask
from cyclegan_biz.vision.segmentation import person_mask
from cyclegan_biz.wardrobe import fitting
from cyclegan_biz.wardrobe.appearance import CHEEK_RIGHT
from cyclegan_biz.wardrobe.blends import BLENDS
from cyclegan_biz.wardrobe.catalogue import UnknownOutfitError, load_wardrobe
from cyclegan_biz.wardrobe.detail import DETAIL_FACE_PX, detail_energy, match_detail
from cyclegan_biz.wardrobe.head import head_matte
from cyclegan_biz.wardrobe.outfit import Outfit
from cyclegan_biz.wardrobe.placement import MAX_CHIN_TO_COLLAR, place_outfit
from cyclegan_biz.wardrobe.skin import cheek_lab, jaw_rim_lightness, lab_pixels, lit_cheek_lab, recolour_skin

EXAMPLES = Path(cli.__file__).parent / "examples"
MAN = EXAMPLES / "canada-095m.jpg"
WOMAN = EXAMPLES / "canada-010f.jpg"  # curly hair reaching the jaw
GREY = (197, 199, 201)
NAVY = (30, 40, 80)


def synthetic_outfit() -> Outfit:
    """A drawn suit: navy jacket reaching the layer's sides and bottom, white shirt, red tie, and a neck."""
    width, height = 300, 360
    clothes = np.zeros((height, width, 4), np.uint8)
    jacket = np.array([[120, 140], [180, 140], [270, 190], [299, 230], [299, 359], [0, 359], [0, 230], [30, 190]])
    cv2.fillPoly(clothes, [jacket], (*NAVY, 255))
    cv2.fillPoly(clothes, [np.array([[125, 140], [175, 140], [150, 260]])], (245, 245, 245, 255))
    cv2.fillPoly(clothes, [np.array([[145, 150], [155, 150], [158, 240], [142, 240]])], (170, 20, 30, 255))
    skin = np.zeros_like(clothes)
    skin[95:175, 118:182] = (200, 150, 130, 255)
    skin[clothes[..., 3] > 0] = 0
    anchors = {"chin": (150, 118), "eye_left": (128, 28), "eye_right": (172, 28), "neck_left": (122, 140),
               "neck_right": (178, 140), "shoulder_left": (35, 200), "shoulder_right": (265, 200)}
    return Outfit(id="synthetic-suit", attire="suit", colour="navy", shirt="white", tie=True, clothes=clothes,
                  skin=skin, anchors=anchors, face_size=100.0, source="drawn", licence="CC0")


@pytest.fixture(scope="module")
def pipe() -> SelfieToBusinessPipeline:
    return SelfieToBusinessPipeline.from_pretrained(engine="torch", device="cpu")


@pytest.fixture(scope="module")
def classical() -> SelfieToBusinessPipeline:
    """The pipeline without its finisher: the fitter's classical blend alone."""
    return SelfieToBusinessPipeline.from_pretrained(engine="torch", device="cpu", finisher=False)


@pytest.fixture(scope="module")
def man_canvas():
    """The man's photo on the 512 px headshot frame: (canvas, person matte, face)."""
    return _canvas(load_rgb_array(MAN), 512)


def _canvas(photo: np.ndarray, width: int):
    face = detect_face(photo)
    person = person_mask(photo)
    framing = headshot_framing(face, head_top(person, face), width)
    canvas = framing.warp(photo)
    matte = framing.warp(person) * framing.valid_mask(photo.shape)
    return canvas, matte.astype(np.float32), face.transformed(framing.matrix)


def _lab(rgb) -> np.ndarray:
    return lab_pixels(np.asarray(rgb).reshape(-1, 3))


# --- placement -------------------------------------------------------------------------------------------------------
def test_placement_puts_the_chin_on_the_chin_level_and_to_scale(man_canvas):
    _, _, face = man_canvas
    outfit = synthetic_outfit()
    placement = place_outfit(outfit, face)
    assert placement.basis == "face"
    assert placement.matrix[0, 1] == 0 and placement.matrix[1, 0] == 0  # no rotation, ever
    chin = placement.matrix[:, :2] @ outfit.anchor("chin") + placement.matrix[:, 2]
    np.testing.assert_allclose(chin, face.points[152], atol=1e-3)
    assert placement.scale == pytest.approx(face.size() / outfit.face_size)


def test_a_long_necked_outfit_comes_up_to_the_chin(man_canvas):
    _, _, face = man_canvas
    outfit = synthetic_outfit()
    long_neck = replace(outfit, anchors={**outfit.anchors, "chin": (150, 60)})  # chin 0.8 face sizes above collar
    placement = place_outfit(long_neck, face)
    collar_y = placement.scale * 140 + placement.matrix[1, 2]
    assert collar_y - face.points[152, 1] == pytest.approx(MAX_CHIN_TO_COLLAR * face.size(), rel=1e-3)


def test_turned_head_centres_the_collar_under_the_chin_not_the_nose(man_canvas):
    _, _, face = man_canvas
    outfit = synthetic_outfit()
    turned = face.points.copy()
    turned[1, 0] += 0.2 * face.size()  # the nose swings right, the chin a little
    turned[152, 0] += 0.05 * face.size()
    placement = place_outfit(outfit, Face(turned, face.groups))
    collar = (outfit.anchor("neck_left") + outfit.anchor("neck_right")) / 2
    collar_x = placement.scale * collar[0] + placement.matrix[0, 2]
    assert collar_x == pytest.approx(turned[152, 0], abs=0.5)


def test_seen_shoulders_refine_the_scale_within_limits(man_canvas):
    _, _, face = man_canvas
    outfit = synthetic_outfit()
    base = place_outfit(outfit, face).scale
    wide = (np.array([-500.0, 400.0]), np.array([1500.0, 400.0]))  # absurdly wide: capped at +25 %
    placement = place_outfit(outfit, face, wide)
    assert placement.basis == "shoulders" and placement.scale == pytest.approx(1.25 * base)
    span = (outfit.anchor("shoulder_right") - outfit.anchor("shoulder_left"))[0] * base
    centre = np.array([256.0, 400.0])
    same = (centre - [span / 2, 0], centre + [span / 2, 0])
    assert place_outfit(outfit, face, same).scale == pytest.approx(base)


# --- fitting on real heads -------------------------------------------------------------------------------------------
def _check_fit(result, canvas, face, outfit_colour=NAVY):
    image = result.image
    height, width = image.shape[:2]
    # background flat at the top corners, clothes at the bottom centre
    assert tuple(image[2, 2]) == GREY and tuple(image[2, width - 3]) == GREY
    assert np.abs(image[height - 3, int(0.2 * width)].astype(int) - outfit_colour).max() < 40
    # the face is the user's: the head weight is 1 on the face (its rim is compose.paste_face's)
    core = cv2.erode(face_mask(canvas.shape, face), np.ones((5, 5), np.uint8)).astype(bool)
    assert result.head[core].min() > 0.99
    # from the chin down to the bottom the person is continuous: no gap of background between head and outfit
    chin_x, chin_y = np.round(face.points[152]).astype(int)
    assert result.person[chin_y:, chin_x].min() > 0.9


def test_fit_on_a_real_head(man_canvas):
    canvas, person, face = man_canvas
    result = fitting.fit_outfit(canvas, person, face, synthetic_outfit(), GREY)
    _check_fit(result, canvas, face)
    # below the chin it is the outfit's neck, recoloured to the cheeks: not the user's T-shirt
    chin_x, chin_y = np.round(face.points[152]).astype(int)
    neck = result.image[chin_y + int(0.08 * face.size()), chin_x]
    assert np.linalg.norm(_lab(neck)[0] - cheek_lab(canvas, face)) < 20


def test_painted_neck_starts_from_the_lit_cheek(man_canvas):
    canvas, _, face = man_canvas
    side_lit = canvas.copy()
    middle = int(face.points[:, 0].mean())
    side_lit[:, :middle] //= 3  # light from the image's right: the left cheek in deep shadow
    lit = lit_cheek_lab(side_lit, face)
    both = cheek_lab(side_lit, face)
    assert lit[0] > both[0] + 5  # the median of both cheeks is partly shadow
    assert np.linalg.norm(lit - cheek_lab(canvas, face, CHEEK_RIGHT)) < 3  # the lit side, as it was
    assert np.linalg.norm(lit_cheek_lab(canvas, face) - cheek_lab(canvas, face)) < 8  # even light


def test_fit_on_a_rolled_head_stays_level(pipe):
    photo = load_rgb_array(MAN)
    height, width = photo.shape[:2]
    rotation = cv2.getRotationMatrix2D((width / 2, height / 2), 20, 1.0)
    rolled = cv2.warpAffine(photo, rotation, (width, height), borderMode=cv2.BORDER_REPLICATE)
    result = pipe(rolled, attire="suit", outfit="suit-navy-01", size=384)
    out = np.asarray(result.image)
    face = detect_face(out)
    assert abs(np.degrees(face.roll())) < 2  # the frame levels the eyes; the outfit is never rotated
    # the jacket's lower edge is level: the bottom row is clothes across (nearly) the whole width
    assert (result.person_mask[-3] > 0.9).mean() > 0.9


def test_tight_crop_without_neck_or_shoulders(pipe, classical):
    photo = load_rgb_array(MAN)
    face = detect_face(photo)
    chin_y = int(face.points[152, 1])
    tight = photo[: chin_y + 6]  # cut just below the chin: no neck, no shoulders
    for fitter in (classical, pipe):
        result = fitter(tight, attire="suit", outfit="suit-navy-01", size=384)
        out = np.asarray(result.image)
        out_face = detect_face(out)
        x, y = np.round(out_face.points[152]).astype(int)
        neck = _lab(out[y + int(0.1 * out_face.size()), x])[0]
        cheeks = cheek_lab(out, out_face)
        assert result.person_mask[y:, x].min() > 0.9
        if fitter is classical:  # the painted neck, in the cheeks' colour
            assert np.linalg.norm(neck - cheeks) < 20
        else:  # the finisher may shade it (the chin's shadow): still inside what real portraits show
            limits = real_ranges()["seam"]["thresholds"]
            assert np.linalg.norm(neck[1:] - cheeks[1:]) <= limits["skin_delta_ab"]
            assert -47 <= neck[0] - cheeks[0] <= 10  # real necks: up to 47 L* darker than the cheeks


def test_long_hair_in_front_of_the_shoulders_is_kept_but_not_a_straight_cut(man_canvas):
    canvas, person, face = man_canvas
    canvas, person = canvas.copy(), person.copy()
    size = face.size()
    top = int(np.nonzero(person.max(axis=1) > 0.5)[0][0])  # the top of the hair
    x = int(face.points[1, 0])
    hair_colour = np.median(canvas[top + int(0.05 * size): top + int(0.15 * size), x - 10: x + 10].reshape(-1, 3),
                            axis=0)
    outline = face.points[face.groups["outline"]]
    strands = np.zeros(person.shape, np.uint8)
    eye_y = int(face.eye_centers()[0][1])
    bottom = canvas.shape[0] - 1
    for inner, outward in ((outline[:, 0].min(), -1), (outline[:, 0].max(), 1)):  # hair falling beside the face
        x_in = int(inner)
        x_out = int(inner + outward * 0.2 * size)
        pts = np.array([[x_in, eye_y], [x_out, eye_y], [x_out + outward * int(0.2 * size), bottom],
                        [x_in + outward * int(0.2 * size), bottom]])
        cv2.fillConvexPoly(strands, pts, 1)
    canvas[strands > 0] = hair_colour
    person[strands > 0] = 1.0
    head = head_matte(canvas, person, face)
    low = int(face.points[152, 1] + 0.5 * size)  # well below the chin
    assert head[low][strands[low] > 0].mean() > 0.7  # the hair is kept in front of the shoulders
    neck_column = head[low:, int(face.points[152, 0]) - 5: int(face.points[152, 0]) + 5]
    assert neck_column.max() < 0.1  # the neck's column below the chin is the outfit's
    # the lower edge of the head is not one straight row
    columns = np.nonzero(head.max(axis=0) > 0.5)[0]
    bottoms = np.array([np.nonzero(head[:, c] > 0.5)[0].max() for c in columns])
    assert bottoms.std() > 0.1 * size


def test_a_patch_apart_from_the_head_is_not_kept(man_canvas):
    """The segmentation sometimes takes a patch of sky or wall beside the head for the person: it is not the head's,
    so it must not float on the plain background (it did, before the matte kept only what touches the face)."""
    canvas, person, face = man_canvas
    canvas, person = canvas.copy(), person.copy()
    size = face.size()
    outline = face.points[face.groups["outline"]]
    x = int(outline[:, 0].max() + 0.35 * size)  # beside the head, clear of its hair and ear
    y = int(face.eye_centers()[0][1])
    patch = (slice(y - int(0.06 * size), y + int(0.06 * size)), slice(x, x + int(0.12 * size)))
    assert person[patch].max() < 0.5  # background there, before
    person[patch] = 1.0
    canvas[patch] = (140, 160, 190)
    head = head_matte(canvas, person, face)
    assert head[patch].max() < 0.1
    assert head[int(face.points[1, 1]), int(face.points[1, 0])] > 0.9  # the face is kept


def test_a_lock_of_hair_beyond_a_thin_gap_is_kept(man_canvas):
    canvas, person, face = man_canvas
    canvas, person = canvas.copy(), person.copy()
    size = face.size()
    head = head_matte(canvas, person, face)
    eye_y = int(face.eye_centers()[0][1])
    rows = slice(eye_y - int(0.15 * size), eye_y + int(0.2 * size))
    edge = int(np.nonzero((head[rows] > 0.05) | (person[rows] > 0.05))[1].max())  # the head's right edge there
    x0 = edge + max(2, int(0.02 * size))  # a hairline gap, as segmentations leave between strands
    lock = (rows, slice(x0, x0 + int(0.12 * size)))
    hair = canvas[int(face.points[10, 1]) - int(0.1 * size), int(face.points[10, 0])]  # above the forehead
    person[lock] = 1.0
    canvas[lock] = hair
    assert head_matte(canvas, person, face)[lock].mean() > 0.6


def test_beard_stays_a_beard(man_canvas):
    canvas, person, face = man_canvas
    canvas = canvas.copy()
    size = face.size()
    chin = face.points[152]
    beard = np.zeros(person.shape, np.uint8)
    jaw = face.points[face.groups["outline"]]
    jaw = jaw[jaw[:, 1] > face.mouth_center()[1]]
    cv2.fillConvexPoly(beard, np.round(np.concatenate([jaw, [chin + [0, 0.15 * size]]])).astype(np.int32), 1)
    beard[: int(face.mouth_center()[1] + 0.05 * size)] = 0
    canvas[beard > 0] = (45, 35, 30)
    head = head_matte(canvas, person, face)
    below_chin = (int(chin[1] + 0.1 * size), int(chin[0]))
    assert head[below_chin] > 0.7  # the beard under the chin is kept (not painted over with neck skin)


@pytest.mark.parametrize("blend", BLENDS)
def test_every_blend_joins_jaw_and_neck(man_canvas, blend):
    canvas, person, face = man_canvas
    result = fitting.fit_outfit(canvas, person, face, synthetic_outfit(), GREY, blend=blend)
    _check_fit(result, canvas, face)


def test_every_shipped_outfit_fits_a_bundled_example():
    canvas, person, face = _canvas(load_rgb_array(MAN), 256)
    outfits = load_wardrobe()
    assert outfits, "the wardrobe is empty"
    for outfit in outfits:
        for variant in (outfit, outfit.mirrored()):
            result = fitting.fit_outfit(canvas, person, face, variant, GREY)
            chin_x, chin_y = np.round(face.points[152]).astype(int)
            assert result.person[chin_y:, chin_x].min() > 0.6, f"{variant.id}: a gap between head and outfit"
            assert result.person[-2, 10:-10].mean() > 0.7, f"{variant.id}: the outfit does not reach the bottom"


# --- the pipeline ----------------------------------------------------------------------------------------------------
def _face_core_error(result, photo: np.ndarray) -> int:
    framing = result.framing
    face = detect_face(photo)
    expected = framing.warp(photo)
    mask = face_mask(expected.shape, face.transformed(framing.matrix))
    core = feathered_face(mask, FaceBlend.for_face_size(0.41 * framing.width)) >= 1.0
    return int(np.abs(np.asarray(result.image).astype(int) - expected.astype(int))[core].max())


@pytest.mark.parametrize("outfit", ["auto", "suit-navy-01", "keep"])
def test_outfit_path_keeps_the_face_and_the_whole_head(pipe, outfit):
    photo = load_rgb_array(WOMAN)
    result = pipe(WOMAN, outfit=outfit, size=384, background=GREY)
    assert result.outfit == (outfit if outfit != "auto" else result.outfit)
    assert result.outfit not in (None, "none")
    assert _face_core_error(result, photo) <= 2
    matte = result.person_mask
    assert matte[:3].max() < 0.05, "the head touches the frame's top: hair cut"
    top = np.nonzero(matte.max(axis=1) > 0.5)[0][0] / matte.shape[0]
    assert top == pytest.approx(FRAME_TARGETS["1:1"][0], abs=0.05)
    assert not any("top edge" in warning for warning in result.warnings)  # her curls do touch the sides


def test_outfit_keep_keeps_own_clothes_and_none_is_the_generator(pipe):
    keep = pipe(MAN, outfit="keep", size=256)
    assert keep.outfit == "keep" and "fit" not in keep.timings
    none = pipe(MAN, outfit="none", size=256)
    assert none.outfit == "none" and "generator" in none.timings
    assert none.image.size == (256, 256)


def test_aspect_4_5(pipe):
    result = pipe(MAN, outfit="suit-navy-01", size=256, aspect="4:5")
    assert result.image.size == (256, 320)
    assert result.person_mask[-2, 10:-10].mean() > 0.9


def test_hair_touching_the_top_edge_is_reported(pipe):
    photo = load_rgb_array(WOMAN)
    face = detect_face(photo)
    cut = photo[int(face.points[face.groups["brows"], 1].min() - 0.25 * face.size()):]
    result = pipe(cut, outfit="suit-navy-01", size=256)
    assert result.warnings and "top edge" in result.warnings[0]
    assert np.asarray(result.image)[0].std() > 5  # the photo's top edge is the frame's: nothing invented above


@pytest.mark.parametrize("name", ["canada-003f.jpg", "canada-010f.jpg"])
def test_no_background_between_the_neck_and_the_default_blazers_collar(pipe, name):
    """The default blazer's stand-up collar stands off the neck: a hole of background showed there on both bundled
    women until the painted neck reached it (skin.MAX_COLLAR_GAP)."""
    result = pipe(EXAMPLES / name, attire="blazer", size=512)
    out_face = detect_face(np.asarray(result.image))
    size, (chin_x, chin_y) = out_face.size(), out_face.points[152]
    matte = result.person_mask
    for y in range(int(chin_y + 0.45 * size), min(matte.shape[0], int(chin_y + 0.9 * size))):
        row = matte[y, int(chin_x - 0.7 * size): int(chin_x + 0.7 * size)]
        solid = np.nonzero(row > 0.5)[0]
        inside = row[solid.min(): solid.max() + 1] if len(solid) else row[:0]
        assert inside.min(initial=1.0) > 0.2, (name, y)  # nothing see-through between two worn parts of a row


def test_a_head_cut_by_a_side_edge_is_reported(pipe):
    photo = load_rgb_array(MAN)
    face = detect_face(photo)
    assert not any("side edge" in w for w in pipe(photo, outfit="suit-navy-01", size=256).warnings)
    x1 = face.points[face.groups["outline"], 0].max()  # the right cheek: the hair beside it is cut
    result = pipe(photo[:, : int(x1 + 0.05 * face.size())], outfit="suit-navy-01", size=256)
    assert any("side edge" in warning for warning in result.warnings), result.warnings
    assert any("side edge" in w for w in pipe(WOMAN, size=256).warnings)  # her curls reach both sides


def test_a_very_dark_photo_is_reported(pipe):
    from cyclegan_biz.vision import degrade
    from cyclegan_biz.vision.exposure import UNDEREXPOSED_L, brightest_lightness

    photo = load_rgb_array(MAN)
    assert not any("very dark" in w for w in pipe(photo, size=256).warnings)
    assert brightest_lightness(degrade.exposure(photo, -2.0)) > UNDEREXPOSED_L  # a dim room is not "very dark"
    dark = degrade.exposure(photo, -3.0)
    assert any("very dark" in w for w in pipe(dark, size=256).warnings)
    assert any("very dark" in w for w in pipe(dark, size=256, outfit="none").warnings)  # the generator's path too
    deep = photo.copy()  # deep skin in good light is not dark: the measure looks at the photo's brightest parts
    deep[:] = (deep * 0.35).astype(np.uint8)
    deep[:20] = 235  # a lit background strip
    assert brightest_lightness(deep) > UNDEREXPOSED_L


def test_side_edge_is_told_from_shoulders_and_from_someone_else():
    from cyclegan_biz.headshot_frame import head_top

    face = detect_face(load_rgb_array(MAN))
    size, (x_mid, eye_y) = face.size(), face.eye_centers()[0] / 2 + face.eye_centers()[1] / 2
    mask = np.zeros((int(eye_y + 2 * size), int(x_mid + 3 * size)), bool)
    cv2.ellipse(mask.view(np.uint8), (int(x_mid), int(eye_y)), (int(0.6 * size), int(0.8 * size)), 0, 0, 360, 1, -1)
    assert not head_top(mask, face).touches_side
    shoulders = mask.copy()
    shoulders[int(eye_y + 0.8 * size):, :] = True  # shoulders reaching both sides, below the chin
    assert not head_top(shoulders, face).touches_side
    band = mask.copy()
    band[int(eye_y - 0.2 * size): int(eye_y + 0.2 * size), int(x_mid):] = True  # something out to the right edge
    cut = band[:, : int(x_mid + 1.0 * size)]  # the photo's edge 1 face size from the face: hair cut there
    assert head_top(cut, face).touches_side
    assert not head_top(band, face).touches_side  # the edge 3 face sizes away: not this head's


def test_headshot_frame_puts_headroom_above_the_mask():
    photo = load_rgb_array(MAN)
    face = detect_face(photo)
    top = HeadTop(above_eyes=0.9 * face.size(), touches_top=False)
    framing = headshot_framing(face, top, 400)
    eye = face.transformed(framing.matrix).eye_centers()
    head_top_y = eye[0][1] - 0.9 * face.size() * framing.scale
    assert head_top_y == pytest.approx(FRAME_TARGETS["1:1"][0] * 400, abs=1)
    assert face.transformed(framing.matrix).size() == pytest.approx(FRAME_TARGETS["1:1"][1] * 400, rel=1e-3)


def test_custom_outfit_from_a_photo_is_cut_once(pipe, tmp_path, monkeypatch):
    dressed = tmp_path / "my-suit.jpg"
    pipe(MAN, outfit="suit-navy-10", size=512, aspect="4:5").image.save(dressed, quality=92)
    from cyclegan_biz.wardrobe import builder

    calls = []
    original = builder.cut_outfit
    monkeypatch.setattr(builder, "cut_outfit", lambda *a, **k: calls.append(1) or original(*a, **k))
    builder.forget_outfit_photos()
    first = pipe(WOMAN, outfit=str(dressed), size=256)
    second = pipe(WOMAN, outfit=dressed, size=256)
    assert first.outfit == second.outfit == "photo:my-suit.jpg"
    assert len(calls) == 1  # cached by the file's hash
    assert first.person_mask[-2, 10:-10].mean() > 0.9


def test_photo_without_an_outfit_is_a_clear_error(pipe, tmp_path, no_face_image):
    photo = load_rgb_array(MAN)
    face = detect_face(photo)
    tight = tmp_path / "face-only.png"
    Image.fromarray(photo[: int(face.points[152, 1]) + 4]).save(tight)
    with pytest.raises(NoOutfitError, match="shoulders|clothing|outfit"):
        pipe(WOMAN, outfit=str(tight), size=256)
    with pytest.raises(CycleBizError):
        pipe(WOMAN, outfit=str(no_face_image), size=256)
    with pytest.raises(UnknownOutfitError, match="cyclegan-biz outfits"):
        pipe(WOMAN, outfit="no-such-outfit", size=256)
    with pytest.raises(CycleBizError, match="no such outfit photo"):
        pipe(WOMAN, outfit=str(tmp_path / "missing.jpg"), size=256)


# --- the CLI ----------------------------------------------------------------------------------------------------------
def test_cli_lists_outfits_with_credit(capsys):
    assert cli.main(["outfits"]) == 0
    text = capsys.readouterr().out
    for outfit in load_wardrobe():
        assert outfit.id in text and outfit.credit() in text
    assert cli.main(["outfits", "--attire", "blazer", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {row["attire"] for row in rows} == {"blazer"}
    assert all(row["credit"] for row in rows)


def test_cli_convert_with_outfit(tmp_path, capsys):
    target = tmp_path / "out.jpg"
    assert cli.main(["convert", str(MAN), "-o", str(target), "--outfit", "keep", "--size", "128", "--json",
                     "--engine", "torch"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["results"][0]["outfit"] == "keep" and target.is_file()


def test_mirrored_outfit_fits_too():
    outfit = synthetic_outfit()
    mirrored = replace(outfit).mirrored()
    assert mirrored.anchor("chin")[0] == pytest.approx(outfit.size[0] - 1 - outfit.anchor("chin")[0])


def test_clothes_detail_is_brought_to_the_face():
    """Clothes much sharper than a soft face are softened to about the face's detail; next to a sharp face they
    are left alone (the measurement is ``evaluation.sharpness``': clothes over face detail)."""
    rng = np.random.default_rng(0)
    texture = np.clip(rng.normal(128, 40, (600, 600, 3)), 0, 255).astype(np.uint8)
    alpha = np.ones((600, 600), dtype=np.float32)
    face_size = 300.0  # canvas px: the measurement scale is DETAIL_FACE_PX per face size
    factor = DETAIL_FACE_PX / face_size

    def ratio(rgb: np.ndarray, face_energy: float) -> float:
        gray = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), None, fx=factor, fy=factor,
                          interpolation=cv2.INTER_AREA)
        return detail_energy(gray, np.ones(gray.shape, bool)) / face_energy

    soft_face = 0.2 * ratio(texture, 1.0)  # the texture is 5x as detailed as this face
    softened = match_detail(texture, alpha, face_size, soft_face, scale=3.0)
    assert ratio(texture, soft_face) > 4
    assert ratio(softened, soft_face) <= 1.6  # within the real portraits' range (5th-95th: 0.32-1.54), near 1
    sharp_face = 1.5 * ratio(texture, 1.0)  # ratio 0.67: between MIN_ and MAX_DETAIL_RATIO
    assert np.array_equal(match_detail(texture, alpha, face_size, sharp_face, scale=3.0), texture)


def test_outfit_skin_keeps_little_of_the_wearer_lines():
    """A thin dark line in the outfit's skin layer (the wearer's jaw line or a neck fold, enlarged) shows at most
    about a third of its depth on the user's recoloured skin."""
    from cyclegan_biz.wardrobe.appearance import to_lab

    skin = np.full((200, 200, 3), (200, 150, 130), dtype=np.uint8)
    skin[98:102, :] = (120, 80, 70)  # a 4 px line across
    alpha = np.ones((200, 200), dtype=np.float32)
    target = to_lab(np.array([[[205, 160, 140]]], dtype=np.uint8))[0, 0]
    out = recolour_skin(skin, alpha, target, face_size=300.0)
    lightness = to_lab(out)[..., 0]
    line_depth = float(lightness[150, 100] - lightness[100, 100])
    original_depth = float(to_lab(skin)[150, 100, 0] - to_lab(skin)[100, 100, 0])
    assert 0 < line_depth <= 0.4 * original_depth


def test_hair_cut_by_the_bottom_of_a_tight_crop_fades_out_below_it(man_canvas):
    """Past a tight crop's bottom edge the canvas is the photo mirrored: the hair continues there and fades out with
    the distance from the photo (no straight cut at the edge); skin there (a mirrored chin) is never kept."""
    canvas, person, face = man_canvas
    canvas, person = canvas.copy(), person.copy()
    size = face.size()
    chin = face.points[152]
    cut = int(chin[1] + 0.1 * size)
    hair_colour = (40, 30, 25)
    strand_x = int(face.points[face.groups["outline"], 0].min() - 0.1 * size)
    canvas[int(face.eye_centers()[0][1]):, strand_x - 8: strand_x + 8] = hair_colour
    person[:, strand_x - 8: strand_x + 8] = 1.0
    x = int(chin[0])
    canvas[cut:, x - 10: x + 10] = canvas[int(chin[1] - 0.3 * size), x]  # cheek-coloured: a mirrored face
    person[cut:, x - 10: x + 10] = 1.0
    inside = np.zeros(person.shape, np.uint8)
    inside[:cut] = 1
    head = head_matte(canvas, person, face, inside=inside)
    strand = head[:, strand_x]
    near, mid, far = (cut + int(f * size) for f in (0.03, 0.2, 0.5))
    assert strand[near] > 0.7  # not cut at the photo's edge
    assert strand[near] > strand[mid] + 0.2 > 0.2  # fading out with the distance
    assert strand[far] < 0.05
    assert head[cut + int(0.15 * size):, x].max() < 0.05  # skin past the edge is not the user's


def test_mirrored_below_continues_the_photo_only_where_the_canvas_reaches():
    image = np.arange(5 * 3, dtype=np.uint8).reshape(5, 3)
    padded = mirrored_below(image, 3)
    assert padded.shape == (8, 3) and np.array_equal(padded[5:], image[::-1][:3])
    assert mirrored_below(image, 0) is image
    below = Framing(np.array([[1.0, 0, 0], [0, 1.0, -50]]), 100, 100)  # the canvas shows rows 50..150
    assert mirror_rows(below, (120, 100, 3), 40.4) == 41
    assert mirror_rows(below, (20, 100, 3), 400) == 19  # never more than the photo has
    assert mirror_rows(Framing(np.eye(2, 3), 100, 100), (120, 100, 3), 40) == 0  # the canvas ends inside it


def test_the_painted_neck_starts_in_the_jaw_rims_shadow(man_canvas):
    canvas, person, face = man_canvas
    rim = jaw_rim_lightness(canvas, face)
    assert 20 < rim < 95
    shaded = canvas.copy()
    jaw = face.points[face.groups["outline"]]
    jaw = jaw[jaw[:, 1] > face.mouth_center()[1]]
    band = np.zeros(person.shape, np.uint8)
    cv2.polylines(band, [np.round(jaw).astype(np.int32)], False, 1, thickness=int(0.12 * face.size()))
    shaded[band > 0] = (shaded[band > 0] * 0.5).astype(np.uint8)
    assert jaw_rim_lightness(shaded, face) < rim - 10
    below = np.round(face.points[152] + [0, 0.1 * face.size()]).astype(int)

    def neck_lightness(image):
        fit = fitting.fit_outfit(image, person, face, synthetic_outfit(), GREY, blend="lab")
        return _lab(fit.image[below[1] - 2: below[1] + 3, below[0] - 2: below[0] + 3])[:, 0].mean()

    assert neck_lightness(shaded) < neck_lightness(canvas) - 4  # a shaded jaw rim: a shaded neck under it
