"""The outfit's skin in the user's colour: the cheeks' colour, the outfit's neck skin recoloured to it, a plain
painted neck under it, and the cheeks' grain."""

from __future__ import annotations

import cv2
import numpy as np

from ..vision.landmarks import MESH_CHIN, Face
from .appearance import CHEEK_LEFT, CHEEK_RIGHT, patch_pixels, to_lab
from .detail import detail_sigma, grain

# Mesh points (mediapipe's 478-point face mesh): the cheeks the builder samples too.
CHEEK_POINTS = CHEEK_LEFT + CHEEK_RIGHT
# Half the width of the neck (face sizes; a neck is about as wide as the face size, 2 eye distances): the painted
# neck's width, and below the chin hair is only kept outside this column.
NECK_HALF_WIDTH = 0.42
# The painted neck reaches sideways to the collar across gaps of at most this (face sizes). 0.2 left a hole of
# background beside the neck under the default blazer's stand-up collar (blazer-black-03, on both bundled women).
MAX_COLLAR_GAP = 0.3
# Lightness of neck skin relative to the cheeks (Lab L units, neck darker), from real portraits (see docs).
NECK_SHADE = 6.0
# Under the chin the painted neck is this much darker still (at least; up to MAX when the jaw rim is darker), fading
# out over UNDER_CHIN_REACH face sizes; the rim is measured RIM_DEPTH face sizes inside the jaw line.
UNDER_CHIN_SHADE = 8.0
MAX_UNDER_CHIN_SHADE = 30.0
UNDER_CHIN_REACH = 0.25
RIM_DEPTH = 0.04
# The outfit's skin layer keeps this share of the wearer's shading coarser than a Gaussian of sigma SKIN_SHADING_SIGMA x
# face size, and SKIN_FINE_DETAIL_KEPT of what is finer: seen on contact sheets, the full shading drew the wearer's
# jaw line and neck folds on the user's neck and chest, and kept whole, the finer detail (enlarged 2-5x from small
# sources) still drew them as thin lines.
SKIN_BROAD_SHADING_KEPT = 0.25
SKIN_FINE_DETAIL_KEPT = 0.3
SKIN_SHADING_SIGMA = 0.025


def lab_pixels(rgb: np.ndarray) -> np.ndarray:
    """N x 3 RGB pixels (any dtype 0..255) -> N x 3 float32 Lab."""
    return to_lab(np.asarray(rgb, dtype=np.uint8).reshape(-1, 1, 3)).reshape(-1, 3)


def cheek_lab(image: np.ndarray, face: Face, points: tuple[int, ...] = CHEEK_POINTS) -> np.ndarray:
    """Median Lab colour of the upper cheeks (of ``points``: both cheeks by default)."""
    radius = max(1, int(round(0.02 * face.size())))
    pixels = patch_pixels(image, face.points[list(points)], radius)
    return np.median(lab_pixels(pixels), axis=0)


def lit_cheek_lab(image: np.ndarray, face: Face) -> np.ndarray:
    """The skin colour the painted neck starts from: the lighter cheek's. With light from one side, the median of
    both cheeks is half shadow and painted a dark brown neck under a lit jaw (seen on casual photos)."""
    sides = [cheek_lab(image, face, side) for side in (CHEEK_LEFT, CHEEK_RIGHT)]
    return max(sides, key=lambda lab: lab[0])


def neck_colour(cheeks_lab: np.ndarray) -> np.ndarray:
    """The Lab colour a neck has next to cheeks of ``cheeks_lab`` (a little darker)."""
    return np.asarray(cheeks_lab, dtype=np.float32) - np.array([NECK_SHADE, 0.0, 0.0], dtype=np.float32)


def recolour_skin(rgb: np.ndarray, alpha: np.ndarray, target_lab: np.ndarray, face_size: float = 0.0) -> np.ndarray:
    """Lab colour transfer of the outfit's neck skin to ``target_lab`` (the user's cheeks, shaded like a neck):
    mean shift in a, b and L, keeping the layer's skin texture. With ``face_size`` (canvas pixels), the wearer's
    shading (the shadow and line of their jaw, a neck fold, the light on a turned head: shapes that belong to someone
    else) is mostly flattened, down to ``SKIN_BROAD_SHADING_KEPT``."""
    weights = alpha > 0.5
    if not weights.any():
        return rgb
    rows, cols = np.nonzero(alpha.max(axis=1) > 0)[0], np.nonzero(alpha.max(axis=0) > 0)[0]
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    out = rgb.copy()
    out[y0:y1, x0:x1] = _shift_lab(rgb[y0:y1, x0:x1], weights[y0:y1, x0:x1], target_lab,
                                   SKIN_SHADING_SIGMA * face_size)
    return out


def _shift_lab(rgb: np.ndarray, weights: np.ndarray, target_lab: np.ndarray, sigma: float = 0.0) -> np.ndarray:
    lab = to_lab(rgb)
    mean = lab[weights].mean(axis=0)
    if sigma >= 1.0:
        inside = weights.astype(np.float32)
        # the shading: lightness blurred inside the skin only (normalised: the clothes do not darken the edges)
        broad = cv2.GaussianBlur(lab[..., 0] * inside, (0, 0), sigma) / np.maximum(
            cv2.GaussianBlur(inside, (0, 0), sigma), 1e-3)
        detail = lab[..., 0] - broad
        lab[..., 0] = mean[0] + SKIN_BROAD_SHADING_KEPT * (broad - mean[0]) + SKIN_FINE_DETAIL_KEPT * detail
    lab += neck_colour(target_lab) - mean
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return lab_to_rgb(lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float32 Lab (... x 3) -> uint8 RGB."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32).reshape(-1, 1, 3), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8).reshape(np.shape(lab))


def jaw_rim_lightness(image: np.ndarray, face: Face) -> float:
    """Median Lab L of the skin just inside the lower jaw line (the face's bottom rim, where a chin casts its
    shadow): the painted neck starts at this lightness so the jaw does not end in a dark line over a light neck."""
    size = face.size()
    outline = face.points[face.groups["outline"]]
    chin = face.points[MESH_CHIN]
    lower = outline[(outline[:, 1] > face.mouth_center()[1]) & (np.abs(outline[:, 0] - chin[0]) < 0.3 * size)]
    if not len(lower):
        return float("nan")
    centre = face.points[face.groups["outline"]].mean(axis=0)
    inside = lower + (centre - lower) * (RIM_DEPTH * size / np.maximum(np.linalg.norm(centre - lower, axis=1),
                                                                       1e-6))[:, None]
    pixels = patch_pixels(image, inside, max(1, int(round(0.015 * size))))
    return float(np.median(lab_pixels(pixels)[:, 0])) if len(pixels) else float("nan")


def paint_neck(composite: np.ndarray, matte: np.ndarray, face: Face, neck_lab: np.ndarray, clothes: np.ndarray,
               noise_sigma: float = 0.0, rim_lightness: float = float("nan")) -> None:
    """A plain neck under the outfit's own skin layer (in place; ``matte`` gets its weight): the hull of the jaw
    near the chin and a neck's width where the clothes start under the chin, in the user's neck colour, a little
    darker under the chin and at the sides; below it continues down to the bottom, but only between the clothes'
    left and right edges on each row (``clothes``: canvas bool mask of the fitted clothes), which fills a neckline's
    V and leaves no background where the soft edges of clothes and skin meet; and sideways to the collar where it is
    at most ``MAX_COLLAR_GAP`` away (no strip of background between the neck and the collar where the wearer's own,
    wider neck or hair was cut out). Outfits whose skin layer is small or missing still get a neck.
    ``noise_sigma``: the face's noise level, added so the neck is not smoother than the face."""
    clothes_span = row_span(clothes)
    size = face.size()
    outline = face.points[face.groups["outline"]]
    chin = face.points[MESH_CHIN]
    near = np.abs(outline[:, 0] - chin[0]) < NECK_HALF_WIDTH * size
    jaw = outline[(outline[:, 1] > face.mouth_center()[1]) & near]
    # symmetric about the chin, down to where the clothes start under it (anchors of a turned wearer's collar
    # would skew it), then on inside the clothes' span to the bottom
    half = NECK_HALF_WIDTH * size
    column = clothes_span[:, int(np.clip(round(chin[0]), 0, clothes_span.shape[1] - 1))]
    below = np.nonzero(column[int(max(chin[1], 0)):])[0]
    start = chin[1] + (below[0] if len(below) else 0.3 * size) + 0.05 * size
    base = np.array([[chin[0] - half, start], [chin[0] + half, start]])
    neck = cv2.convexHull(np.concatenate([jaw, base]).astype(np.float32)).reshape(-1, 2)
    bottom = composite.shape[0] + 1.0
    deep = np.array([[chin[0] - half, start - 0.1 * size], [chin[0] + half, start - 0.1 * size],
                     [chin[0] + half, bottom], [chin[0] - half, bottom]], dtype=np.float32)
    height, width = composite.shape[:2]
    corners = np.concatenate([neck, deep])
    reach = MAX_COLLAR_GAP * size
    x0, y0 = np.maximum(np.floor(corners.min(axis=0) - [reach, 0]).astype(int) - 4, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0) + [reach, 0]).astype(int) + 4, (width, height))
    if x1 <= x0 or y1 <= y0:
        return
    shape = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillConvexPoly(shape, np.round(deep - (x0, y0)).astype(np.int32), 1)
    shape &= clothes_span[y0:y1, x0:x1].astype(np.uint8)
    cv2.fillConvexPoly(shape, np.round(neck - (x0, y0)).astype(np.int32), 1, lineType=cv2.LINE_AA)
    gaps = _to_collar(shape.astype(bool), clothes[y0:y1, x0:x1], int(round(reach)))
    gaps[: max(0, int(chin[1]) - y0)] = 0  # beside the jaw a lapel's peak is no collar to reach for
    shape |= gaps
    weight = cv2.GaussianBlur(shape.astype(np.float32), (0, 0), max(1.0, 0.008 * size))
    rows = np.arange(y0, y1, dtype=np.float32)
    columns = np.arange(x0, x1, dtype=np.float32)
    # shading: the chin's shadow under it, and the neck's sides turning away from the light
    # the chin's shadow: at least UNDER_CHIN_SHADE darker under the chin, and down to the jaw rim's own lightness
    # (a lit neck under a shaded jaw line reads as a pasted neck), fading out smoothly downward
    shade = UNDER_CHIN_SHADE if np.isnan(rim_lightness) else float(
        np.clip(neck_lab[0] - rim_lightness, UNDER_CHIN_SHADE, MAX_UNDER_CHIN_SHADE))
    t = np.clip(1 - (rows - float(chin[1])) / (UNDER_CHIN_REACH * size), 0, 1)
    under_chin = t * t * (3 - 2 * t) * shade
    across = np.clip(np.abs(columns - chin[0]) / (NECK_HALF_WIDTH * size), 0, 1)
    sides = (1 - np.cos(across * np.pi / 2)) * 7.0
    lab = np.empty((len(rows), len(columns), 3), dtype=np.float32)
    lab[...] = np.asarray(neck_lab, dtype=np.float32)
    lab[..., 0] -= under_chin[:, None] + sides[None, :]
    paint = lab_to_rgb(lab)
    if noise_sigma > 0.3:
        paint = cv2.add(paint, cv2.merge([grain(paint.shape[:2], noise_sigma)] * 3), dtype=cv2.CV_8U)
    region = composite[y0:y1, x0:x1]
    region[...] = _over(region, paint, weight)
    np.maximum(matte[y0:y1, x0:x1], weight, out=matte[y0:y1, x0:x1])


def _to_collar(neck: np.ndarray, clothes: np.ndarray, reach: int) -> np.ndarray:
    """uint8 mask of the gaps between the neck and the clothes: on each row, from the neck's edge outward to the
    first clothes pixel when that is at most ``reach`` pixels away (on each side), widening by a pixel a row from
    the first such row down."""
    gaps = np.zeros(neck.shape, dtype=np.uint8)
    columns = np.arange(neck.shape[1])
    for flip in (False, True):
        n, c = (neck[:, ::-1], clothes[:, ::-1]) if flip else (neck, clothes)
        has_neck = n.any(axis=1)
        edge = np.where(has_neck, n.shape[1] - 1 - n[:, ::-1].argmax(axis=1), -1)  # the neck's last pixel
        beyond = c & (columns[None, :] > edge[:, None])
        found = beyond.any(axis=1)
        first = np.where(found, beyond.argmax(axis=1), -1)
        rows = has_neck & found & (first - edge <= reach)
        # sloping out from the neck like a shoulder (one pixel wider per row), not a block with a flat top
        run_start = np.maximum.accumulate(np.where(rows & ~np.r_[False, rows[:-1]], np.arange(len(rows)), 0))
        end = np.minimum(first, edge + 1 + (np.arange(len(rows)) - run_start))
        fill = rows[:, None] & (columns[None, :] > edge[:, None]) & (columns[None, :] < end[:, None])
        gaps |= (fill[:, ::-1] if flip else fill).astype(np.uint8)
    return gaps


def row_span(mask: np.ndarray) -> np.ndarray:
    """bool mask: on each row, everything between the first and the last set pixel of ``mask``."""
    any_row = mask.any(axis=1)
    first = np.where(any_row, mask.argmax(axis=1), mask.shape[1])
    last = np.where(any_row, mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1), -1)
    columns = np.arange(mask.shape[1])
    return (columns[None, :] >= first[:, None]) & (columns[None, :] <= last[:, None])



def _over(base: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return cv2.blendLinear(rgb, base, alpha, 1.0 - alpha)


def face_grain(photo: np.ndarray, face: Face) -> float:
    """The noise/detail level of the cheeks (``detail_sigma`` on small squares around the cheek points)."""
    radius = max(2, int(round(0.04 * face.size())))
    points = np.round(face.points[list(CHEEK_POINTS)]).astype(int)
    x0, y0 = np.maximum(points.min(axis=0) - radius, 0)
    x1, y1 = np.minimum(points.max(axis=0) + radius + 1, (photo.shape[1], photo.shape[0]))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for x, y in points - (x0, y0):
        mask[max(0, y - radius): y + radius + 1, max(0, x - radius): x + radius + 1] = True
    return detail_sigma(cv2.cvtColor(np.ascontiguousarray(photo[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY), mask)

