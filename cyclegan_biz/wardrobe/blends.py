"""Joining the user's jaw to the outfit's neck (Laplacian pyramid, Poisson or plain Lab blend) and the seam's
checks (``seam_stats``)."""

from __future__ import annotations

import cv2
import numpy as np

from ..vision.landmarks import MESH_CHIN, Face
from .appearance import patch_pixels, to_lab
from .outfit import Outfit
from .placement import Placement
from .skin import cheek_lab, lab_pixels

# The seam work (pyramid or Poisson blend) runs at most this wide, inside the chin-to-collar band.
SEAM_WIDTH = 512
# How the jaw joins the outfit's neck. Measured with scripts/compare_blends.py on eval/canada (40 photos, default
# outfits, 1024 px; seam band chin - 0.1 to chin + 0.3 face sizes, as on real portraits), median (p90):
#   gradient ratio (strongest row / median row of vertical lightness gradient; real wiki portraits 2.91 (4.56)):
#     pyramid 3.45 (5.26), poisson 3.40 (5.18), lab 3.54 (4.91);
#   cheek-to-neck Lab distance (real portraits 21.5 (36.6)): pyramid 14.2, poisson 13.3, lab 13.0;
#   time of the whole fit: pyramid 80 ms, poisson 122 ms, lab 72 ms (quiet machine: +8 ms for the pyramid,
#   +50 ms for Poisson). Poisson is a hair better but over the speed budget; the pyramid beats plain Lab transfer on
#   the median seam at little cost: the default.
BLENDS = ("pyramid", "poisson", "lab")
DEFAULT_BLEND = "pyramid"


def laplacian_blend(top: np.ndarray, bottom: np.ndarray, weight: np.ndarray, levels: int = 5) -> np.ndarray:
    """Multi-band blend: each band of the Laplacian pyramids mixed with the weight blurred to that band's scale."""
    a, b = top.astype(np.float32), bottom.astype(np.float32)
    w = weight.astype(np.float32)
    gauss_a, gauss_b, gauss_w = [a], [b], [w]
    for _ in range(levels):
        gauss_a.append(cv2.pyrDown(gauss_a[-1]))
        gauss_b.append(cv2.pyrDown(gauss_b[-1]))
        gauss_w.append(cv2.pyrDown(gauss_w[-1]))
    blended = None
    for level in range(levels, -1, -1):
        wl = gauss_w[level][..., None]
        if level == levels:
            band_a, band_b = gauss_a[level], gauss_b[level]
        else:
            size = (gauss_a[level].shape[1], gauss_a[level].shape[0])
            band_a = gauss_a[level] - cv2.pyrUp(gauss_a[level + 1], dstsize=size)
            band_b = gauss_b[level] - cv2.pyrUp(gauss_b[level + 1], dstsize=size)
        mixed = wl * band_a + (1 - wl) * band_b
        if blended is not None:
            mixed += cv2.pyrUp(blended, dstsize=(mixed.shape[1], mixed.shape[0]))
        blended = mixed
    return np.clip(blended, 0, 255).astype(np.uint8)


def _extend(image: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` where ``weight`` is 1, continued outward with its local colours (normalised convolution, at a
    quarter of the resolution: the fill is smooth anyway)."""
    height, width = weight.shape
    small = (max(1, width // 4), max(1, height // 4))
    w = cv2.resize(weight.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    colours = cv2.resize(image.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    num = cv2.GaussianBlur(colours * w[..., None], (0, 0), max(0.5, sigma / 4))
    den = cv2.GaussianBlur(w, (0, 0), max(0.5, sigma / 4))[..., None]
    filled = cv2.resize(num / np.maximum(den, 1e-4), (width, height), interpolation=cv2.INTER_LINEAR)
    full = weight.astype(np.float32)[..., None]
    return full * image + (1 - full) * filled


def seam_box(face: Face, placement: Placement, outfit: Outfit, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the chin-to-collar band on the canvas: the jaw's width, from the mouth to below the
    collar."""
    size = face.size()
    outline = face.points[face.groups["outline"]]
    collar = np.array([outfit.anchor("neck_left"), outfit.anchor("neck_right")]) * placement.scale
    collar_y = float(collar[:, 1].max() + placement.matrix[1, 2])
    x0 = int(outline[:, 0].min() - 0.15 * size)
    x1 = int(outline[:, 0].max() + 0.15 * size)
    y0 = int(face.mouth_center()[1])
    y1 = int(max(collar_y, face.points[MESH_CHIN, 1] + 0.25 * size) + 0.1 * size)
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def blend_seam(composite: np.ndarray, photo: np.ndarray, head: np.ndarray, person: np.ndarray,
               box: tuple[int, int, int, int], method: str, face_size: float) -> np.ndarray:
    """Join the user's jaw to the outfit's neck inside ``box`` (in place on ``composite``, which already has the
    head linearly alpha-blended). ``pyramid``: multi-band; ``poisson``: seamless clone of the neck with the jaw as
    boundary; ``lab``: nothing more (the skin's Lab colour transfer and the linear feather only). Only the person
    changes (``person``: the fitted matte), and the change fades out toward the box's border."""
    if method == "lab":
        return composite
    x0, y0, x1, y1 = box
    if x1 - x0 < 8 or y1 - y0 < 8:
        return composite
    region = composite[y0:y1, x0:x1]
    user = photo[y0:y1, x0:x1]
    weight = head[y0:y1, x0:x1]
    k = min(1.0, SEAM_WIDTH / (x1 - x0))
    if k < 1:
        size = (max(8, int(round((x1 - x0) * k))), max(8, int(round((y1 - y0) * k))))
        region_s = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        user_s = cv2.resize(user, size, interpolation=cv2.INTER_AREA)
        weight_s = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    else:
        region_s, user_s, weight_s = region, user, weight
    sigma = max(1.0, 0.03 * face_size * k)
    # the user's pixels continued below the jaw with the jaw's own colours: the real neck (maybe a hoodie or
    # scarf) is never used beyond the feather
    core = (weight_s > 0.95).astype(np.float32)
    user_ext = _extend(user_s, core, sigma)
    if method == "pyramid":
        levels = int(np.clip(np.log2(max(2.0, 0.25 * face_size * k)), 2, 5))
        mixed = laplacian_blend(user_ext, region_s, weight_s, levels)
    elif method == "poisson":
        neck = ((weight_s < 0.05) & (cv2.cvtColor(region_s, cv2.COLOR_RGB2GRAY) > 0)).astype(np.uint8) * 255
        neck[[0, -1], :] = 0
        neck[:, [0, -1]] = 0
        if not neck.any():
            return composite
        ys, xs = np.nonzero(neck)
        centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
        base = (weight_s[..., None] * user_ext + (1 - weight_s[..., None]) * region_s).astype(np.uint8)
        mixed = cv2.seamlessClone(region_s, base, neck, centre, cv2.NORMAL_CLONE)
    else:
        raise ValueError(f"Unknown blend {method!r}; choose one of {', '.join(BLENDS)}.")
    change = mixed.astype(np.float32) - region_s
    if k < 1:  # the reduced blend's change is upsampled and added: the full-resolution detail stays
        change = cv2.resize(change, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    window = _taper(y1 - y0, x1 - x0, 0.1) * person[y0:y1, x0:x1]
    composite[y0:y1, x0:x1] = np.clip(region + change * window[..., None], 0, 255).astype(np.uint8)
    return composite


def _taper(height: int, width: int, fraction: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 over ``fraction`` of the size at each border."""
    def ramp(n: int) -> np.ndarray:
        t = np.minimum(np.arange(n) + 0.5, n - np.arange(n) - 0.5) / max(1.0, fraction * n)
        t = np.clip(t, 0, 1)
        return (t * t * (3 - 2 * t)).astype(np.float32)
    return np.outer(ramp(height), ramp(width))



def seam_stats(image: np.ndarray, face: Face, collar_y: float | None = None) -> dict[str, float]:
    """Two checks of the chin-to-collar band, without learning: ``gradient_ratio`` = the strongest row of vertical
    lightness gradient over the band's median row (a straight cut scores high), and ``cheek_neck_distance`` = Lab
    distance between the cheeks and the skin just below the chin."""
    size = face.size()
    chin = face.points[MESH_CHIN]
    half = 0.18 * size
    x0, x1 = int(chin[0] - half), int(chin[0] + half)
    y0 = int(chin[1] - 0.1 * size)
    y1 = int(collar_y if collar_y is not None else chin[1] + 0.3 * size)
    height, width = image.shape[:2]
    x0, x1, y0, y1 = max(0, x0), min(width, x1), max(0, y0), min(height, max(y1, y0 + 4))
    band = to_lab(np.ascontiguousarray(image[y0:y1, x0:x1]))[..., 0]
    gradient = np.abs(np.diff(cv2.GaussianBlur(band, (0, 0), 1.0), axis=0)).mean(axis=1)
    ratio = float(gradient.max() / max(np.median(gradient), 1e-3))
    neck = patch_pixels(image, np.array([[chin[0], chin[1] + 0.12 * size]]), max(1, int(0.04 * size)))
    distance = float(np.linalg.norm(np.median(lab_pixels(neck), axis=0) - cheek_lab(image, face)))
    return {"gradient_ratio": ratio, "cheek_neck_distance": distance}
