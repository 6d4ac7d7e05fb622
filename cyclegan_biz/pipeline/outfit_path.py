"""The outfit path (``outfit="auto"``, an outfit id, a photo of an outfit, or "keep"): the headshot frame (whole
head), a real outfit fitted under the head (``wardrobe.fitting``) or the user's own clothes, the exact face, a flat
background."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from ..compose import paste_face, replace_background
from ..headshot_frame import FRAME_TARGETS, head_top, headshot_framing
from ..imageio import ImageInput
from ..vision.geometry import Framing, transform_points
from ..vision.pose import detect_shoulders
from ..vision.segmentation import person_mask
from ..wardrobe import finishing, fitting
from ..wardrobe.head import estimate_turn_and_light
from ..wardrobe.vocabulary import ATTIRE_AUTO, OUTFIT_AUTO, OUTFIT_KEEP
from .decoding import read_photo
from .result import HeadshotResult
from .stages import MATTE_LUT, SEGMENTATION_WIDTH, Stopwatch, aligned_square, exposure_warnings, to_model_input

if TYPE_CHECKING:
    from .selfie_to_business import SelfieToBusinessPipeline

# Stages of the outfit path (outfit="auto", an id, a photo, or "keep": fewer).
OUTFIT_STAGES = ("decode", "face", "segment", "attire", "outfit", "pose", "fit", "finish", "compose")
# The person fades out over this many face sizes toward the photo's own edges (hair or shoulders cut by the photo end
# softly instead of in a straight line).
PHOTO_EDGE_FADE = 0.12
# Hair cut by the bottom of a tight crop: the photo is mirrored this far (face sizes) below its bottom edge (the
# mirrored hair fades out there: ``wardrobe.head.MIRROR_FADE``); on the casual test split the straight cut under
# the chin or the hair was the commonest seam failure.
MIRRORED_BELOW = 0.6


def outfit_headshot(pipe: SelfieToBusinessPipeline, image: ImageInput, attire: str, outfit: str,
                    color: tuple[int, int, int], size: int, aspect: str, watch: Stopwatch) -> HeadshotResult:
    """The outfit path: the headshot frame (whole head), a real outfit fitted under the head (or the user's own
    clothes for ``outfit="keep"``), the exact face, a flat background. See ``wardrobe.fitting``."""
    lap = watch.lap
    needed = FRAME_TARGETS[aspect][1] * size
    photo, scale, face, small, small_face = read_photo(image, needed, size, lap)
    # 3. the person: segmented once on a small copy (mediapipe's model works at 256 px anyway)
    seg_k = min(1.0, SEGMENTATION_WIDTH / small.shape[1])
    seg_image = cv2.resize(small, None, fx=seg_k, fy=seg_k, interpolation=cv2.INTER_AREA) if seg_k < 1 else small
    person_small = person_mask(seg_image)
    seg_face = small_face.scaled(seg_k)
    top = head_top(person_small, seg_face)
    photo_per_seg = face.size() / seg_face.size()
    top.above_eyes *= photo_per_seg
    framing = headshot_framing(face, top, size, aspect)
    warnings_ = []
    if top.touches_top:
        warnings_.append("The hair touches the top edge of the photo, so the top of the head is cut off; for a "
                         "complete head, use a photo with some space above the hair.")
    if top.touches_side:
        warnings_.append("The head touches a side edge of the photo, so the hair (or an ear or cheek) ends in a "
                         "straight line there; use a photo with some space beside the head.")
    warnings_ += exposure_warnings(seg_image)
    seg_framing = framing.scaled_photo(1 / photo_per_seg)  # the segmented copy is the photo / photo_per_seg
    canvas_face = face.transformed(framing.matrix)
    # with an outfit, hair cut by the bottom of a tight crop continues mirrored below the photo and fades out there
    # (no straight cut); the sides, and the user's own clothes ("keep"), fade out inside the photo
    below = 0 if outfit == OUTFIT_KEEP else mirror_rows(framing, photo.shape, MIRRORED_BELOW * face.size())
    canvas = framing.warp(mirrored_below(photo, below))
    person_seg = mirrored_below(person_small, int(np.ceil(below / photo_per_seg)))
    person = seg_framing.warp(person_seg)
    person = cv2.LUT(np.clip(np.rint(person * 255), 0, 255).astype(np.uint8), MATTE_LUT)
    person *= faded_edges(seg_framing.valid_mask(person_seg.shape), PHOTO_EDGE_FADE * canvas_face.size())
    inside = seg_framing.valid_mask(person_small.shape) if below else None  # where the photo (not its mirror) is
    lap("segment")

    attire_used, confidence, probabilities, outfit_id = attire, None, None, outfit
    if outfit == OUTFIT_KEEP:
        composed = replace_background(canvas, person, color)
        matte = person
    else:
        if outfit == OUTFIT_AUTO and attire == ATTIRE_AUTO:
            square = aligned_square(small, small_face, pipe.engine.resolution)
            attire_used, confidence, probabilities = pipe._choose_attire(attire, to_model_input(square), small,
                                                                        small_face)
        lap("attire")
        # head turn and light only pick among the default outfits (and their mirrors)
        turn_and_light = estimate_turn_and_light(canvas, canvas_face) if outfit == OUTFIT_AUTO else (0.0, 0.0)
        chosen = fitting.resolve_outfit(outfit, attire_used, *turn_and_light)
        attire_used, outfit_id = chosen.attire, chosen.id
        lap("outfit")
        shoulders = _shoulders(small, framing, face.size() / small_face.size())
        lap("pose")
        fit = fitting.fit_outfit(canvas, person, canvas_face, chosen, color, shoulders,
                                 inside=inside)
        composed, matte = fit.image, fit.person
        lap("fit")
        finisher = pipe.finisher
        if finisher is not None:  # the trained seam correction (issue 12); else the classical blend alone
            composed = finishing.finish(finisher, composed, canvas_face, matte)
        lap("finish")
    face_alpha, box = paste_face(composed, photo, face, framing)
    if box is not None:
        x0, y0, x1, y1 = box
        np.maximum(matte[y0:y1, x0:x1], face_alpha, out=matte[y0:y1, x0:x1])
    lap("compose")
    return HeadshotResult(
        image=Image.fromarray(composed), attire=attire_used, attire_confidence=confidence,
        face_box=tuple(float(v / scale) for v in face.box), timings=watch.timings, framing=framing.scaled_photo(scale),
        person_mask=matte, attire_probabilities=probabilities, faces_found=small_face.faces_found,
        outfit=outfit_id, warnings=warnings_,
    )


def _shoulders(small: np.ndarray, framing: Framing, photo_per_small: float):
    """Both shoulders on the canvas when the pose model saw them inside the photo, else None."""
    found = detect_shoulders(small)
    if found is None or not found.usable():
        return None
    points = np.array([found.left, found.right], dtype=np.float64) * photo_per_small
    return tuple(transform_points(points, framing.matrix))


def mirror_rows(framing: Framing, photo_shape: tuple[int, ...], rows: float) -> int:
    """How many rows (at most ``rows``, fewer than the photo has) to mirror below the photo: 0 when the canvas does
    not reach below it."""
    corners = np.array([[0, 0], [framing.width, 0], [0, framing.height], [framing.width, framing.height]], float)
    lowest = transform_points(corners, cv2.invertAffineTransform(framing.matrix))[:, 1].max()
    if lowest <= photo_shape[0]:
        return 0
    return int(min(np.ceil(rows), photo_shape[0] - 1))


def mirrored_below(image: np.ndarray, rows: int) -> np.ndarray:
    """``image`` with its last ``rows`` rows mirrored below it (``image`` itself when ``rows`` is 0)."""
    if rows <= 0:
        return image
    pad = ((0, min(rows, image.shape[0] - 1)),) + ((0, 0),) * (image.ndim - 1)
    return np.pad(image, pad, mode="symmetric")


def faded_edges(valid: np.ndarray, distance: float) -> np.ndarray:
    """float32 0..1: 1 deeper than ``distance`` pixels inside the 0/1 ``valid`` mask, fading to 0 at its border;
    1 everywhere when the photo covers the whole canvas."""
    if valid.all():
        return np.ones(valid.shape, dtype=np.float32)
    inside = cv2.distanceTransform(valid, cv2.DIST_L2, 3)
    return np.clip(inside / max(distance, 1.0), 0.0, 1.0)
