"""Face geometry with the default (mediapipe) backend: alignment round trips, masks, errors, several faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from cyclegan_biz.errors import FaceTooSmallError, NoFaceError
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.vision.geometry import (
    CANONICAL_EYE_CENTER,
    CANONICAL_FACE_SIZE,
    Alignment,
    align_face,
    compose_affine,
    invert_affine,
)
from cyclegan_biz.vision.landmarks import MIN_FACE_SIZE, detect_face, face_mask, get_backend
from cyclegan_biz.vision.segmentation import person_mask

NOSE_TIP = 1  # mediapipe face-mesh index of the nose tip


def eye_mid(face) -> np.ndarray:
    left, right = face.eye_centers()
    return (left + right) / 2


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` turned counter-clockwise (as seen) by ``degrees``, canvas grown to fit, grey fill."""
    pil = Image.fromarray(image).rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True,
                                        fillcolor=(127, 127, 127))
    return np.asarray(pil)


@pytest.fixture(scope="module")
def photos(example_photos):
    """(image, face) of every example photo, detected once."""
    out = []
    for path in example_photos:
        image = load_rgb_array(path)
        out.append((image, detect_face(image)))
    return out


# --- detection ---------------------------------------------------------------------------------------------------
def test_detect_face_finds_a_plausible_face(photos):
    for image, face in photos:
        height, width = image.shape[:2]
        assert face.backend == "mediapipe"
        assert face.points.dtype == np.float32 and face.points.shape == (478, 2)
        left, right = face.eye_centers()
        assert left[0] < right[0]
        # Passport-style examples: eyes in the upper-middle of the photo, level, mouth below them.
        assert 0.3 * width < eye_mid(face)[0] < 0.7 * width
        assert 0.2 * height < eye_mid(face)[1] < 0.6 * height
        assert abs(np.degrees(face.roll())) < 5
        assert face.mouth_center()[1] > eye_mid(face)[1] + 0.1 * face.size()
        assert 0.3 * width < face.size() < 0.8 * width


# --- alignment ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 256, 512])
def test_align_face_puts_eyes_at_the_canonical_position(photos, size):
    for _, face in photos:
        alignment = align_face(face, size)
        crop_face = face.transformed(alignment.matrix)
        left, right = crop_face.eye_centers()
        np.testing.assert_allclose((left + right) / 2, np.array(CANONICAL_EYE_CENTER) * size, atol=1.0)
        assert abs(left[1] - right[1]) < 0.5  # level eye line
        assert abs(crop_face.roll()) < 1e-3
        assert crop_face.size() == pytest.approx(CANONICAL_FACE_SIZE * size, rel=1e-3)


def test_warped_crop_has_the_face_where_the_matrix_says(photos):
    """Independent check of warp direction: landmarks re-detected on the crop sit at the canonical place."""
    size = 256
    for image, face in photos:
        alignment = align_face(face, size)
        crop = alignment.warp(image, border_value=(127, 127, 127))
        assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
        again = detect_face(crop, min_face_size=0)
        np.testing.assert_allclose(eye_mid(again), np.array(CANONICAL_EYE_CENTER) * size, atol=0.02 * size)
        assert abs(np.degrees(again.roll())) < 2
        assert again.size() == pytest.approx(CANONICAL_FACE_SIZE * size, rel=0.08)


def test_points_round_trip_between_photo_and_crop(photos):
    image, face = photos[0]
    alignment = align_face(face, 256)
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 512, size=(50, 2)).astype(np.float32)
    np.testing.assert_allclose(alignment.to_photo(alignment.to_canvas(points)), points, atol=0.05)
    np.testing.assert_allclose(alignment.to_photo(alignment.to_canvas(face.points)), face.points, atol=0.05)
    np.testing.assert_allclose(compose_affine(alignment.matrix, alignment.inverse), [[1, 0, 0], [0, 1, 0]],
                               atol=1e-9)
    np.testing.assert_allclose(invert_affine(alignment.inverse), alignment.matrix, atol=1e-9)


def test_unwarp_of_warp_reproduces_the_photo(photos):
    image, face = photos[0]
    size = round(face.size() / CANONICAL_FACE_SIZE)  # about 1:1, so the round trip loses little
    alignment = align_face(face, size)
    assert alignment.scale == pytest.approx(1.0, abs=0.01)
    back = alignment.unwarp(alignment.warp(image), image.shape)
    assert back.shape == image.shape
    valid = alignment.unwarp(alignment.valid_mask(image.shape), image.shape, interpolation=cv2.INTER_NEAREST)
    valid = cv2.erode(valid, np.ones((5, 5), np.uint8)).astype(bool)
    assert valid.mean() > 0.5
    error = np.abs(back.astype(np.float32) - image.astype(np.float32))[valid]
    assert error.mean() < 3.0
    assert np.percentile(error, 99) < 40
    # ...and where the crop had no photo, the unwarped image is empty (0), not smeared content.
    outside = ~cv2.dilate(valid.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    if outside.any():
        assert back[outside].max() == 0


def test_downscaling_warp_is_antialiased_and_consistent(photos):
    """Big reductions take the antialiased path; it must frame the crop exactly like the plain warp."""
    image, face = photos[0]
    alignment = align_face(face, 64)
    assert alignment.scale < 0.5
    smooth = alignment.warp(image).astype(np.float32)
    nearest = alignment.warp(image, interpolation=cv2.INTER_NEAREST).astype(np.float32)
    inside = cv2.erode(alignment.valid_mask(image.shape), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.abs(smooth - nearest)[inside].mean() < 12  # same framing (a shift would show here)
    # Antialiased: smoother than point sampling.
    assert np.abs(np.diff(smooth, axis=1))[inside[:, 1:]].mean() < np.abs(np.diff(nearest, axis=1))[
        inside[:, 1:]].mean()


def test_valid_mask_marks_padding_in_a_tight_crop(photos):
    image, face = photos[0]
    x0, y0, x1, y1 = (int(v) for v in face.box)
    tight = np.ascontiguousarray(image[max(0, y0 - 10):y1 + 10, max(0, x0 - 10):x1 + 10])
    tight_face = detect_face(tight)
    alignment = align_face(tight_face, 128)
    valid = alignment.valid_mask(tight.shape)
    assert valid.dtype == np.uint8 and set(np.unique(valid)) == {0, 1}
    # The canonical frame shows shoulders and head-room: a face-only crop cannot fill it.
    assert 0.1 < valid.mean() < 0.7
    for x, y in (*tight_face.transformed(alignment.matrix).eye_centers(),):
        assert valid[int(round(y)), int(round(x))] == 1
    assert valid[-1, 0] == 0 and valid[-1, -1] == 0 and valid[0, 0] == 0
    # Padding is exactly the border value, away from the bilinear seam.
    crop = alignment.warp(tight, border_value=(127, 127, 127))
    pad = cv2.dilate(valid, np.ones((5, 5), np.uint8)) == 0
    assert pad.any() and (crop[pad] == 127).all()
    # valid_mask counts as many pixels as the photo covers in the crop.
    h, w = tight.shape[:2]
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], np.float32)
    square = np.array([[-0.5, -0.5], [127.5, -0.5], [127.5, 127.5], [-0.5, 127.5]], np.float32)
    area, _ = cv2.intersectConvexConvex(alignment.to_canvas(corners), square)
    assert valid.sum() == pytest.approx(area, rel=0.03)


def test_valid_mask_is_all_ones_when_the_photo_covers_the_frame(photos):
    image, face = photos[0]
    big = cv2.copyMakeBorder(image, 400, 400, 400, 400, cv2.BORDER_REFLECT)
    shifted = face.transformed(np.array([[1, 0, 400], [0, 1, 400]], np.float64))
    valid = align_face(shifted, 96).valid_mask(big.shape)
    assert valid.min() == 1


def test_resized_alignment_keeps_the_framing(photos):
    image, face = photos[1]
    big = align_face(face, 256)
    small = big.resized(128)
    assert isinstance(small, Alignment) and small.size == 128
    # Pixel-centre exact (as cv2.resize): pixel i of the big crop sits at (i + 0.5) / 2 - 0.5 on the small one, so
    # the small crop is align_face(face, 128) shifted by a quarter pixel (the canonical anchor is a pixel position).
    np.testing.assert_allclose(small.to_canvas(face.points), (big.to_canvas(face.points) + 0.5) / 2 - 0.5, atol=1e-3)
    np.testing.assert_allclose(small.matrix[:, :2], align_face(face, 128).matrix[:, :2], atol=1e-6)
    np.testing.assert_allclose(small.matrix[:, 2], align_face(face, 128).matrix[:, 2] - 0.25, atol=1e-6)
    # The small crop looks like the big one shrunk.
    shrunk = cv2.resize(big.warp(image), (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    direct = small.warp(image).astype(np.float32)
    inside = cv2.erode(small.valid_mask(image.shape), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.abs(shrunk - direct)[inside].mean() < 6


def test_rotated_photo_is_levelled(photos):
    image, _ = photos[2]
    tilted = rotated(image, 20)  # counter-clockwise as seen: the right eye goes up
    face = detect_face(tilted)
    assert np.degrees(face.roll()) == pytest.approx(-20, abs=3)
    alignment = align_face(face, 256)
    crop_face = face.transformed(alignment.matrix)
    left, right = crop_face.eye_centers()
    assert abs(left[1] - right[1]) < 0.5
    np.testing.assert_allclose((left + right) / 2, np.array(CANONICAL_EYE_CENTER) * 256, atol=1.0)
    again = detect_face(alignment.warp(tilted), min_face_size=0)
    assert abs(np.degrees(again.roll())) < 2.5
    np.testing.assert_allclose(eye_mid(again), np.array(CANONICAL_EYE_CENTER) * 256, atol=0.02 * 256)


# --- masks -------------------------------------------------------------------------------------------------------
def _aligned(image, face, size=256):
    alignment = align_face(face, size)
    return alignment.warp(image, border_value=(127, 127, 127)), face.transformed(alignment.matrix)


def test_face_mask_is_binary_and_covers_the_inner_face(photos):
    for image, face in photos:
        crop, crop_face = _aligned(image, face)
        mask = face_mask(crop.shape, crop_face)
        assert mask.shape == crop.shape[:2] and mask.dtype == np.uint8
        assert set(np.unique(mask)) == {0, 1}
        inner = np.concatenate([crop_face.groups["eye_a"], crop_face.groups["eye_b"],
                                crop_face.groups["mouth"], [NOSE_TIP]])
        xy = np.round(crop_face.points[inner]).astype(int)
        assert mask[xy[:, 1], xy[:, 0]].all()
        # A face, not a dot or the whole frame: roughly the size measure squared.
        assert 0.4 < mask.sum() / crop_face.size() ** 2 < 1.2


def test_face_mask_excludes_hair_above_the_brows(photos):
    for image, face in photos:
        crop, crop_face = _aligned(image, face)
        mask = face_mask(crop.shape, crop_face)
        brow_top = crop_face.points[crop_face.groups["brows"], 1].min()
        assert not mask[: int(np.floor(brow_top)) - 1].any()
        # The forehead/hair band above the brows, over the whole face width, is outside.
        x0, _, x1, _ = crop_face.box
        band_top = max(0, int(brow_top - 0.35 * crop_face.size()))
        assert not mask[band_top:int(brow_top) - 1, int(x0):int(x1)].any()


def test_face_mask_follows_a_tilted_head(photos):
    image, _ = photos[0]
    tilted = rotated(image, 20)
    face = detect_face(tilted)
    mask = face_mask(tilted.shape, face)
    xy = np.round(face.points[np.concatenate([face.groups["eye_a"], face.groups["eye_b"], face.groups["mouth"]])])
    assert mask[xy[:, 1].astype(int), xy[:, 0].astype(int)].all()
    # A point one face-size "above" the brows in the face's own frame (up is rotated too) is outside.
    up = np.array([np.sin(face.roll()), -np.cos(face.roll())])
    brows = face.points[face.groups["brows"]].mean(axis=0)
    x, y = np.round(brows + 0.3 * face.size() * up).astype(int)
    assert mask[y, x] == 0


def test_face_mask_lies_inside_the_person_mask(photos):
    for image, face in photos:
        crop, crop_face = _aligned(image, face)
        person = person_mask(crop)
        assert person.shape == crop.shape[:2] and person.dtype == np.float32
        assert person.min() >= 0.0 and person.max() <= 1.0
        fmask = face_mask(crop.shape, crop_face).astype(bool)
        assert (person[fmask] > 0.5).mean() > 0.95
        # The person mask is not trivially everything: the crop's top corners are background.
        assert person[:10, :10].mean() < 0.5 and person[:10, -10:].mean() < 0.5


# --- errors ------------------------------------------------------------------------------------------------------
def test_no_face_raises(no_face_image):
    with pytest.raises(NoFaceError, match="No face"):
        detect_face(load_rgb_array(no_face_image))
    with pytest.raises(NoFaceError):
        detect_face(np.full((200, 200, 3), 180, np.uint8))


def test_tiny_face_raises_face_too_small(example_rgb):
    small = cv2.resize(example_rgb, None, fx=0.2, fy=0.2, interpolation=cv2.INTER_AREA)
    canvas = np.full_like(example_rgb, 200)
    canvas[100:100 + small.shape[0], 100:100 + small.shape[1]] = small
    face = get_backend().detect(canvas)
    assert len(face) == 1 and face[0].size() < MIN_FACE_SIZE  # found, but small
    with pytest.raises(FaceTooSmallError, match="px"):
        detect_face(canvas)
    assert detect_face(canvas, min_face_size=10).size() < MIN_FACE_SIZE


@pytest.mark.parametrize("big_first", [True, False])
def test_several_faces_use_the_largest(photos, big_first):
    (big, big_face), (small_src, _) = photos[0], photos[2]
    small = cv2.resize(small_src, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    canvas = np.full((big.shape[0], big.shape[1] + small.shape[1] + 40, 3), 200, np.uint8)
    bx = 0 if big_first else small.shape[1] + 40
    sx = big.shape[1] + 40 if big_first else 0
    canvas[:, bx:bx + big.shape[1]] = big
    canvas[60:60 + small.shape[0], sx:sx + small.shape[1]] = small
    assert len(get_backend().detect(canvas)) == 2
    face = detect_face(canvas)
    np.testing.assert_allclose(eye_mid(face), eye_mid(big_face) + [bx, 0], atol=3)
    assert face.size() == pytest.approx(big_face.size(), rel=0.05)
    assert face.faces_found == 2  # reported, so callers can tell the user
    assert detect_face(big).faces_found == 1


def test_segmentation_backends_are_chosen_by_name(monkeypatch):
    from cyclegan_biz.vision import segmentation

    class HalfPerson:
        name = "half"

        def __call__(self, image):
            mask = np.zeros(image.shape[:2], np.float32)
            mask[:, : image.shape[1] // 2] = 1.0
            return mask

    monkeypatch.setitem(segmentation._SEGMENTERS, "half", HalfPerson)
    segmentation._segmenter.cache_clear()
    image = np.zeros((4, 6, 3), np.uint8)
    mask = person_mask(image, backend="half")
    assert mask[:, :3].min() == 1.0 and mask[:, 3:].max() == 0.0
    assert segmentation.get_segmenter("half") is segmentation.get_segmenter("half")  # created once
    with pytest.raises(ValueError, match="Unknown segmentation backend 'nope'"):
        person_mask(image, backend="nope")
    segmentation._segmenter.cache_clear()
