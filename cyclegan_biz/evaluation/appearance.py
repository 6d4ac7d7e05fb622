"""Per-image measurements that need no model of our own: how much the face changed (``face_preservation_error``)
and how uniform the background is (``background_std``)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import CycleBizError
from ..imageio import ImageInput, load_rgb_array
from ..vision.geometry import align_face, shrink_to
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
