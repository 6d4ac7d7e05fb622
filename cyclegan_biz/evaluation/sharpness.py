"""Sharpness of the clothes relative to the face, inside the range of real portraits.

Enlarged outfits (sources have 80-130 px faces) look soft next to a sharp face. ``clothes_face_sharpness`` is the
mean high-frequency energy (|grey - Gaussian blur|, sigma ``SIGMA`` px) of the clothes over that of the face, both
in the canonical crop so the resampling is the same for both; its real range (5th-95th percentile of real business
portraits) is stored in ``data/real_ranges.json``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..wardrobe.detail import detail_energy
from .portrait import Portrait

SIGMA = 1.0
CLOTHES_BELOW_CHIN = 0.5  # face sizes: the clothes start below the collar band


def sharpness_ratio(portrait: Portrait) -> float:
    """High-frequency energy of the clothes over that of the face core (NaN when either is not visible)."""
    crop = portrait.crop()
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    valid = cv2.erode(portrait.crop_valid().astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    face = cv2.erode(portrait.crop_face_mask().astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & valid
    rows = np.arange(crop.shape[0])[:, None]
    person = cv2.erode((portrait.crop_person() >= 0.5).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    clothes = person & valid & (rows >= portrait.chin()[1] + CLOTHES_BELOW_CHIN * portrait.face_px)
    face_energy = detail_energy(grey, face, SIGMA)
    if math.isnan(face_energy) or face_energy <= 0:
        return math.nan
    return detail_energy(grey, clothes, SIGMA) / face_energy


def in_range(value: float, limits: tuple[float, float]) -> bool | None:
    return None if value is None or math.isnan(value) else bool(limits[0] <= value <= limits[1])
