"""Per-image measurements that need no model of our own: how much the face changed (``face_preservation_error``)
and how uniform the background is (``background_std``)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import CycleBizError
from ..imageio import ImageInput, load_rgb_array
from ..vision.geometry import Framing, align_face, shrink_to
from ..vision.landmarks import detect_face, face_mask
from ..vision.segmentation import person_mask


def rgb_array(image: ImageInput, max_side: int) -> np.ndarray:
    """``image`` as RGB uint8, shrunk (area-averaged) to at most ``max_side`` px on its long side; never enlarged."""
    return shrink_to(load_rgb_array(image, max_side=None), max_side)[0]


def aligned_face(image: ImageInput, size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(canonical crop, face mask, valid mask) of the largest face, aligned with the image's own landmarks.

    Landmarks are found on a copy of at most ``2 * size`` px (plenty for a ``size`` crop, and faster)."""
    rgb = rgb_array(image, 2 * size)
    face = detect_face(rgb, min_face_size=0)
    alignment = align_face(face, size)
    crop = alignment.warp(rgb)
    return crop, face_mask(crop.shape, face.transformed(alignment.matrix)), alignment.valid_mask(rgb.shape)


def face_preservation_error(source: ImageInput, output: ImageInput, size: int = 256) -> float:
    """Mean absolute difference (0-255) inside the input's face mask between the two canonical face crops.

    Each image is re-detected and aligned with its own landmarks, so outputs of any size or framing compare; the
    mask is the input's face (brows to chin) where both crops have real pixels. NaN when a face is not found.
    """
    try:
        crop_in, face_in, valid_in = aligned_face(source, size)
        crop_out, _, valid_out = aligned_face(output, size)
    except CycleBizError:
        return math.nan
    inside = (face_in > 0) & (valid_in > 0) & (valid_out > 0)
    if not inside.any():
        return math.nan
    diff = np.abs(crop_in.astype(np.float32) - crop_out.astype(np.float32))
    return float(diff[inside].mean())


# The face core: the input's face mask (brows to chin) eroded by this many face sizes (the rim is feathered into the
# headshot by design, ``compose.FaceBlend``).
FACE_CORE_ERODE = 0.05


def face_core_error(source: ImageInput, output: ImageInput, framing: np.ndarray) -> float:
    """Mean absolute difference (0-255) in the face core between the output and the input mapped by the pipeline's
    own ``framing`` (the 2x3 photo -> output matrix, ``HeadshotResult.framing``), resampled the way the pipeline
    resamples. No re-detection on the output, so landmark jitter and the blur of re-aligning a small photo twice do
    not count: what remains is what the pipeline changed in the face. NaN when no face is found in the input."""
    source_rgb = load_rgb_array(source, max_side=None)
    output_rgb = load_rgb_array(output, max_side=None)
    try:
        face = detect_face(source_rgb, min_face_size=0)
    except CycleBizError:
        return math.nan
    radius = max(1, int(round(FACE_CORE_ERODE * face.size())))
    core = cv2.erode(face_mask(source_rgb.shape, face).astype(np.uint8),
                     cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    height, width = output_rgb.shape[:2]
    frame = Framing(np.asarray(framing, dtype=np.float64), width, height)
    expected = frame.warp(source_rgb)
    inside = (frame.warp(core, cv2.INTER_NEAREST) > 0) & (frame.valid_mask(source_rgb.shape) > 0)
    if not inside.any():
        return math.nan
    return float(np.abs(expected.astype(np.float32) - output_rgb.astype(np.float32))[inside].mean())


def background_std(image: ImageInput, mask: np.ndarray | None = None, size: int = 256, margin: int = 4,
                   min_fraction: float = 0.01) -> float:
    """Standard deviation (0-255, mean over R, G, B) of the background: where the person mask is below 0.5, at
    least ``margin`` px away from the person (segmentation edges, stray hair are not background).

    The image is first shrunk to ``size`` px on its long side so photos of any resolution compare; ``margin`` is in
    those pixels. ``mask`` (the soft person mask, same size as ``image``) is computed with mediapipe when not given.
    NaN when less than ``min_fraction`` of the image is background.
    """
    rgb = rgb_array(image, size)
    if mask is not None:
        mask = cv2.resize(np.asarray(mask, dtype=np.float32), (rgb.shape[1], rgb.shape[0]),
                          interpolation=cv2.INTER_LINEAR)
    person = ((person_mask(rgb) if mask is None else mask) >= 0.5).astype(np.uint8)
    if margin > 0:
        person = cv2.dilate(person, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    background = person == 0
    if background.mean() < min_fraction:
        return math.nan
    return float(rgb[background].astype(np.float64).std(axis=0).mean())
