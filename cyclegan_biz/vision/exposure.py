"""Whether a photo is too dark to make a good headshot of: the face is kept exactly as it is, so a dark face stays dark
on the bright studio background, and the user should rather be told.

Measured on the brightest parts of the whole photo (99th percentile of Lab lightness), not on the face, so that deep
skin tones in good light are never called dark: real photos (480: the casual test split, 200 web portraits, 200 UK
Parliament portraits with their dark backdrops) all reach at least L* 67.6; the bundled example darkened by 2 stops
reaches 40.5, by 3 stops 29.7.
"""

from __future__ import annotations

import cv2
import numpy as np

from .geometry import shrink_to

UNDEREXPOSED_L = 35.0  # about 2.5 stops under


def brightest_lightness(rgb: np.ndarray) -> float:
    """The 99th percentile of Lab lightness (0-100) of an HxWx3 uint8 RGB photo, on a copy at most 400 px on its
    long side (the pipeline passes the copy it segments, already that small)."""
    rgb, _ = shrink_to(rgb, 400)
    lightness = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[..., 0]
    return float(np.percentile(lightness, 99))


def is_underexposed(rgb: np.ndarray) -> bool:
    return brightest_lightness(rgb) < UNDEREXPOSED_L
