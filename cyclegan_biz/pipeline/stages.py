"""Pieces shared by the pipeline's two paths: model input/output, the aligned square, timing, the person matte."""

from __future__ import annotations

import time

import cv2
import numpy as np

from ..compose import soften_person_mask
from ..constants import PAD_VALUE
from ..vision.exposure import is_underexposed
from ..vision.geometry import Framing, align_face
from ..vision.landmarks import Face
from ..vision.segmentation import person_mask

# The person is segmented on a copy this wide; the matte is upsampled (mediapipe's model works at 256 px anyway).
SEGMENTATION_WIDTH = 256
# person probability (0..255) -> matte (float32 0..1)
MATTE_LUT = soften_person_mask(np.arange(256, dtype=np.float32) / 255).reshape(1, 256)


class Stopwatch:
    """``lap(stage)`` adds the seconds since the previous lap to ``timings[stage]``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + now - self._clock
        self._clock = now


def exposure_warnings(photo: np.ndarray) -> list[str]:
    """What to tell the user about the photo's light, on either path (the face is pasted back as it is)."""
    if not is_underexposed(photo):
        return []
    return ["The photo is very dark: your face is kept exactly as it is, so it stays dark in the headshot; use a "
            "photo taken in more light."]


def to_model_input(crop: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 1x3xHxW float32 in [-1, 1]."""
    return (crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0).copy()


def from_model_output(output: np.ndarray) -> np.ndarray:
    """1x3xHxW in [-1, 1] -> HxWx3 uint8."""
    return np.clip(np.rint((output[0].transpose(1, 2, 0) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def aligned_square(small: np.ndarray, small_face: Face, resolution: int) -> np.ndarray:
    """The canonical ``resolution`` square of the analysis copy, padded with ``PAD_VALUE`` as in training."""
    return Framing.from_alignment(align_face(small_face, resolution)).warp(small, border_value=(PAD_VALUE,) * 3)


def person_matte(image: np.ndarray) -> np.ndarray:
    """The soft person matte (float32 0..1) of ``image``, segmented on a copy at most ``SEGMENTATION_WIDTH`` wide."""
    height, width = image.shape[:2]
    small_w = min(width, SEGMENTATION_WIDTH)
    small_h = max(1, round(height * small_w / width))
    small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA) if small_w < width else image
    # Upsample the probabilities (8-bit: fast), then sharpen them with a lookup table: smooth contours, no steps.
    probabilities = np.clip(np.rint(person_mask(small) * 255), 0, 255).astype(np.uint8)
    if probabilities.shape != (height, width):
        probabilities = cv2.resize(probabilities, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.LUT(probabilities, MATTE_LUT)
