"""Seam statistics in the chin-to-collar band, without learning.

Two numbers per portrait, both measured in the canonical crop (``portrait.py``):

* ``seam_row_ratio``: the strongest row of vertical lightness gradient in the band over the band's median row.
  Each row's value is the mean |dL/dy| (Lab lightness, Sobel) across the band, so a straight horizontal cut —
  the typical failure of pasting clothes under a head — stands out as one very strong row, while real collars,
  shadows and jaw lines are curved and spread over several rows.
* ``skin_delta_ab``: the colour distance between the cheeks' skin and the neck's skin (medians in Lab), in the a*b*
  plane: a neck of another skin tone or tint than the face. Lightness is left out because real necks are shaded
  (on real business portraits the neck under the chin is a median 18 and up to 47 L* darker than the cheeks,
  while its a*b* differs by a median 8).

A portrait is *within real* when both are at or below the thresholds measured on real business portraits
(``scripts/calibrate_evaluation.py``, stored in ``data/real_ranges.json``): chosen so that 95 % of real portraits
pass on both at once. ``seam_within_real_share`` is the share of outputs within.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cv2
import numpy as np

from ..wardrobe.appearance import to_lab
from .portrait import BAND_DEPTH, BAND_TOP, CHEEKS, Portrait, band_mask
from .references import real_ranges

CHEEK_RADIUS = 0.05  # face sizes
NECK_ROWS = (0.06, 0.2)  # face sizes below the chin: the neck patch (above most collars)
NECK_HALF_WIDTH = 0.1


def row_gradient_ratio(lightness: np.ndarray, band: np.ndarray) -> float:
    """Strongest band row of mean |dL/dy| over the median row (NaN when the band has under 4 rows)."""
    gradient = np.abs(cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3))
    rows = [gradient[y, band[y]].mean() for y in np.flatnonzero(band.any(axis=1)) if band[y].sum() >= 3]
    if len(rows) < 4:
        return math.nan
    profile = np.asarray(rows)
    return float(profile.max() / max(np.median(profile), 0.1))


def _patch_median(image_lab: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    return np.median(image_lab[mask], axis=0) if mask.sum() >= 5 else None


def skin_delta_ab(image_lab: np.ndarray, points: np.ndarray, chin: np.ndarray, face_px: float,
                 usable: np.ndarray) -> float:
    """a*b* distance between the median Lab of the two cheek patches and of the neck patch under the chin."""
    rows, cols = np.mgrid[0:image_lab.shape[0], 0:image_lab.shape[1]]
    cheeks = np.zeros(usable.shape, bool)
    for index in CHEEKS:
        x, y = points[index]
        cheeks |= (rows - y) ** 2 + (cols - x) ** 2 <= (CHEEK_RADIUS * face_px) ** 2
    neck = ((rows >= chin[1] + NECK_ROWS[0] * face_px) & (rows < chin[1] + NECK_ROWS[1] * face_px)
            & (np.abs(cols - chin[0]) <= NECK_HALF_WIDTH * face_px))
    cheek, neck_colour = _patch_median(image_lab, cheeks & usable), _patch_median(image_lab, neck & usable)
    if cheek is None or neck_colour is None:
        return math.nan
    return float(np.linalg.norm(cheek[1:] - neck_colour[1:]))


def seam_stats(portrait: Portrait) -> dict[str, float]:
    """``seam_row_ratio`` and ``skin_delta_ab`` of one portrait (see the module docstring)."""
    crop_lab = to_lab(portrait.crop())
    usable = portrait.crop_valid() & (portrait.crop_person() >= 0.5)
    chin = portrait.chin()
    # Away from the photo's edges: the warp's padding would make a strong row of its own.
    inside = cv2.erode(portrait.crop_valid().astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    band = band_mask(chin, portrait.face_px, top=BAND_TOP, depth=BAND_DEPTH) & inside
    return {"seam_row_ratio": row_gradient_ratio(crop_lab[..., 0], band),
            "skin_delta_ab": skin_delta_ab(crop_lab, portrait.crop_points(), chin, portrait.face_px, usable)}


def within_real(stats: dict[str, float], ranges: dict | None = None) -> bool | None:
    """Whether both seam numbers are at or below the real-portrait thresholds (None when not measurable)."""
    limits = (ranges or real_ranges())["seam"]["thresholds"]
    values = [stats.get(key) for key in limits]
    if any(v is None or math.isnan(v) for v in values):
        return None
    return all(v <= limits[key] for key, v in zip(limits, values, strict=True))


def joint_thresholds(values: dict[str, np.ndarray], target: float = 0.95) -> dict[str, float]:
    """Per-statistic percentile thresholds, the same percentile for each, the lowest at which ``target`` of the
    portraits are at or below all of them at once (portraits with a NaN are left out)."""
    keys = list(values)
    table = np.stack([np.asarray(values[k], dtype=np.float64) for k in keys], axis=1)
    table = table[np.isfinite(table).all(axis=1)]
    for q in np.arange(target * 100, 100.001, 0.1):
        limits = np.percentile(table, q, axis=0)
        if np.mean((table <= limits).all(axis=1)) >= target:
            return {k: float(v) for k, v in zip(keys, limits, strict=True)}
    return {k: float(v) for k, v in zip(keys, table.max(axis=0), strict=True)}


def within_share(flags: Iterable[bool | None]) -> float | None:
    """Share of True among the measurable (not None) flags."""
    judged = [f for f in flags if f is not None]
    return float(np.mean(judged)) if judged else None
