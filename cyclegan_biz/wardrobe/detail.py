"""Sharpness and grain: the clothes' detail brought to the face's, and grain up to the face's noise level."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..vision.landmarks import Face

# Clothes detail is compared with the face's at the measurement scale of ``evaluation.sharpness`` (a face of about
# 105 px, high-pass sigma 1 px). Real business portraits: clothes/face ratio median 0.82, 5th-95th percentile
# 0.32-1.54 (1,480 portraits, ``evaluation/data/real_ranges.json``). Outfits from sharp studio portraits on a soft
# selfie face came out at a median 1.48 on eval/canada (only 55-64 % in that range): the clothes are softened to
# the face's detail when they exceed ``MAX_DETAIL_RATIO``, and sharpened only when clearly softer.
DETAIL_FACE_PX = 105.0
MAX_DETAIL_RATIO = 1.0
MIN_DETAIL_RATIO = 0.5
SOFTEN_SIGMAS = (0.4, 0.7, 1.0, 1.4, 2.0)  # tried in order, in measurement-scale pixels


def detail_sigma(gray: np.ndarray, mask: np.ndarray, step: int = 1) -> float:
    """Robust noise/detail level: median absolute high-pass (3x3) inside ``mask``, as a Gaussian sigma. ``step``:
    use every step-th row and column of the high-pass (the median needs no more)."""
    high = cv2.subtract(gray, cv2.blur(gray, (3, 3)), dtype=cv2.CV_16S)
    values = np.abs(high[::step, ::step][mask[::step, ::step]])
    return float(np.median(values) * 1.4826) if len(values) else 0.0



@lru_cache(maxsize=1)
def _noise_tile(size: int = 256) -> np.ndarray:
    """A fixed tile of unit Gaussian noise (deterministic grain, generated once)."""
    return np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)


def grain(shape: tuple[int, int], sigma: float) -> np.ndarray:
    """int16 luminance noise of ``sigma`` over ``shape``: the fixed tile repeated (fine grain shows no seams)."""
    tile = _noise_tile()
    reps = (-(-shape[0] // tile.shape[0]), -(-shape[1] // tile.shape[1]))
    noise = np.tile(tile, reps)[: shape[0], : shape[1]]
    return np.rint(noise * sigma).astype(np.int16)



def detail_energy(gray: np.ndarray, mask: np.ndarray, sigma: float = 1.0) -> float:
    """Mean |gray - blur(gray)| inside ``mask`` (NaN under 20 pixels): ``evaluation.sharpness``' measure."""
    if mask.sum() < 20:
        return float("nan")
    detail = cv2.absdiff(gray, cv2.GaussianBlur(gray, (0, 0), sigma))
    return float(detail[mask].mean())


def _at_detail_scale(image: np.ndarray, factor: float) -> np.ndarray:
    if factor >= 1:
        return image
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def face_detail(photo: np.ndarray, face: Face) -> float:
    """The face core's detail energy at the measurement scale (NaN when too little of it is visible)."""
    from ..vision.landmarks import face_mask

    factor = DETAIL_FACE_PX / max(face.size(), 1.0)
    x0, y0, x1, y1 = (int(v) for v in np.round(face.box))
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(photo.shape[1], x1), min(photo.shape[0], y1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return float("nan")
    mask = face_mask(photo.shape, face)[y0:y1, x0:x1]
    gray = cv2.cvtColor(np.ascontiguousarray(photo[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    small_mask = _at_detail_scale(mask.astype(np.uint8) * 255, factor) > 127
    small_mask = cv2.erode(small_mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    return detail_energy(_at_detail_scale(gray, factor), small_mask)


def match_detail(rgb: np.ndarray, alpha: np.ndarray, face_size: float, face_energy: float, scale: float) -> np.ndarray:
    """The clothes' detail brought to the face's: softened (Gaussian) when sharper than ``MAX_DETAIL_RATIO`` times
    the face, a light unsharp mask when enlarged and softer than ``MIN_DETAIL_RATIO`` times it. Deterministic."""
    factor = DETAIL_FACE_PX / max(face_size, 1.0)
    inside = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8))
    small_inside = _at_detail_scale(inside * 255, factor) > 127
    gray = _at_detail_scale(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), factor)
    energy = detail_energy(gray, small_inside)
    if np.isnan(energy) or np.isnan(face_energy) or face_energy <= 0:
        return rgb
    ratio = energy / face_energy
    if ratio > MAX_DETAIL_RATIO:
        chosen = SOFTEN_SIGMAS[-1]
        for sigma in SOFTEN_SIGMAS:
            if detail_energy(cv2.GaussianBlur(gray, (0, 0), sigma), small_inside) / face_energy <= MAX_DETAIL_RATIO:
                chosen = sigma
                break
        return cv2.GaussianBlur(rgb, (0, 0), chosen / factor)
    if ratio < MIN_DETAIL_RATIO and scale > 1.2:
        amount = min(0.6, 0.2 * (scale - 1))
        blurred = cv2.GaussianBlur(rgb, (0, 0), 0.5 * scale)
        return cv2.addWeighted(rgb, 1 + amount, blurred, -amount, 0)
    return rgb


def add_grain(rgb: np.ndarray, alpha: np.ndarray, face_noise: float) -> np.ndarray:
    """Luminance grain up to the face's noise level, so the clothes do not look cleaner than the face."""
    inside = alpha > 0.5
    if not inside.any():
        return rgb
    own = detail_sigma(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), inside, step=3)
    extra = float(np.sqrt(max(face_noise ** 2 - own ** 2, 0.0)))
    if extra <= 0.3:
        return rgb
    return cv2.add(rgb, cv2.merge([grain(alpha.shape, extra)] * 3), dtype=cv2.CV_8U)

