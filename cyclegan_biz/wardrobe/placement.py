"""Where an outfit goes on the canvas: its scale and position under the user's chin, and its layers warped there
(a side cut by the source photo's edge continued outward like a shoulder)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..vision.landmarks import MESH_CHIN, Face
from .outfit import Outfit

# Chin to the collar's sides (neck anchors), face sizes: at most this (the wardrobe's suits 0.20, blazers 0.21
# median, 75th percentiles 0.21 and 0.24, measured on the shipped outfits' anchors).
MAX_CHIN_TO_COLLAR = 0.25
# An outfit may be enlarged this much beyond the face-based scale so its shoulders reach the frame's edges.
MAX_WIDEN = 1.3
# A layer's side counts as cut by its photo's edge (and is continued outward) when clothes cover this share of its
# rows there.
MIN_EDGE_COVER = 0.25
# Clothes cut at a layer's side continue outward falling this many rows per column (a shoulder's slope).
SHOULDER_SLOPE = 0.3


@dataclass
class Placement:
    """Outfit layer pixels -> canvas pixels (a similarity transform without rotation: the outfit stays level)."""

    matrix: np.ndarray  # 2x3
    scale: float
    basis: str  # "face" or "shoulders"


def place_outfit(outfit: Outfit, face: Face, shoulders: tuple[np.ndarray, np.ndarray] | None = None,
                 canvas_size: tuple[int, int] | None = None) -> Placement:
    """Scale from the face size (and from the shoulder width when both shoulders were seen inside the photo),
    no rotation (level however the head rolls), the outfit's chin on the user's chin (collar under the chin).
    With ``canvas_size`` (width, height), an outfit whose jacket would end inside the canvas (narrow shoulders,
    not cut by its photo's edge) is enlarged, up to ``MAX_WIDEN``, so the shoulders reach the frame's edges."""
    scale = face.size() / outfit.face_size
    basis = "face"
    if shoulders is not None:
        seen = float(np.linalg.norm(np.subtract(shoulders[1], shoulders[0])))
        own = float(np.linalg.norm(outfit.anchor("shoulder_right") - outfit.anchor("shoulder_left")))
        if own > 0 and seen > 0:
            # geometric mean with the face-based scale, trusted within +-25 % of it (pose points wander on jackets)
            scale = float(np.clip(np.sqrt(scale * seen / own), 0.8 * scale, 1.25 * scale))
            basis = "shoulders"
    chin = face.points[MESH_CHIN].astype(np.float64)
    if canvas_size is not None:
        base = scale
        for _ in range(3):  # the row at the canvas's bottom depends on the scale: a few fixed-point steps
            bottom_row = outfit.anchor("chin")[1] + (canvas_size[1] - chin[1]) / scale
            scale = min(max(base, _reach_scale(outfit, float(chin[0]), canvas_size[0], bottom_row)), MAX_WIDEN * base)
    translation = chin - scale * outfit.anchor("chin").astype(np.float64)
    # a wearer with a long neck (or an outfit enlarged to reach the frame's edges) would give the user one: the
    # collar comes up to at most MAX_CHIN_TO_COLLAR below the chin
    collar_y = min(outfit.anchor("neck_left")[1], outfit.anchor("neck_right")[1])
    gap = scale * (collar_y - outfit.anchor("chin")[1])
    translation[1] -= max(0.0, gap - MAX_CHIN_TO_COLLAR * face.size())
    matrix = np.array([[scale, 0.0, translation[0]], [0.0, scale, translation[1]]])
    return Placement(matrix, scale, basis)


def _reach_scale(outfit: Outfit, chin_x: float, canvas_width: int, layer_row: float) -> float:
    """The scale at which the jacket's row ``layer_row`` (the one at the canvas's bottom) reaches both canvas
    edges (0 for a side cut by the layer's own border: that side is continued anyway, see ``warp_layer``)."""
    index = int(np.clip(round(layer_row), 0, outfit.clothes.shape[0] - 1))
    row = np.nonzero(outfit.clothes[index, :, 3] > 127)[0]
    if len(row) == 0:
        return 0.0
    anchor_x = float(outfit.anchor("chin")[0])
    needed = 0.0
    width = outfit.clothes.shape[1]
    margin = _edge_margin(width)
    left_cut = row[0] < margin and _cut_by_border(outfit.clothes[:, :margin])
    right_cut = row[-1] >= width - margin and _cut_by_border(outfit.clothes[:, width - margin:])
    # a side cut by the photo's edge is continued outward, but that shows: rather reach the canvas's edge with the
    # layer's own border
    left = 0 if left_cut else row[0]
    right = width - 1 if right_cut else row[-1]
    if anchor_x - left > 0:
        needed = max(needed, chin_x / (anchor_x - left))
    if right - anchor_x > 0:
        needed = max(needed, (canvas_width - chin_x) / (right - anchor_x))
    return needed


def layer_box(outfit: Outfit, placement: Placement, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the canvas the outfit's layers cover (their replicated borders included)."""
    alpha = np.maximum(outfit.clothes[..., 3], outfit.skin[..., 3])
    rows, cols = np.nonzero(alpha.max(axis=1))[0], np.nonzero(alpha.max(axis=0))[0]
    if len(rows) == 0:
        return 0, 0, 0, 0
    layer_h, layer_w = alpha.shape
    # a layer reaching its own border continues to the canvas's border (see warp_layer)
    left = 0 if cols[0] == 0 else cols[0]
    right = layer_w if cols[-1] == layer_w - 1 else cols[-1] + 1
    bottom = layer_h if rows[-1] == layer_h - 1 else rows[-1] + 1
    scale, (tx, ty) = placement.scale, placement.matrix[:, 2]
    x0 = 0 if left == 0 else int(np.floor(left * scale + tx)) - 2
    x1 = width if right == layer_w else int(np.ceil(right * scale + tx)) + 2
    y0 = int(np.floor(rows[0] * scale + ty)) - 2
    y1 = height if bottom == layer_h else int(np.ceil(bottom * scale + ty)) + 2
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def _edge_margin(width: int) -> int:
    """Columns from a layer's side that count as touching it (cut-outs have ragged edges)."""
    return max(1, round(0.02 * width))


def _cut_by_border(band: np.ndarray) -> bool:
    """Whether the clothes in a layer's outermost columns (RGBA) were cut by the source photo's edge: covered on at
    least ``MIN_EDGE_COVER`` of the rows (a shoulder leaving the photo), not an arm or a sleeve grazing it."""
    return bool((band[..., 3].max(axis=1) > 127).mean() >= MIN_EDGE_COVER)


def _clean_side_edges(layer: np.ndarray) -> np.ndarray:
    """A layer whose side columns, repeated outward, give clean shoulders: alpha that only grows downward (no
    horizontal streaks from a ragged cut) and colours smoothed along the column."""
    width = layer.shape[1]
    margin = _edge_margin(width)
    bands = {0: layer[:, :margin], width - 1: layer[:, width - margin:]}
    touching = [column for column, band in bands.items() if _cut_by_border(band)]
    layer = layer.copy()
    for column in set(bands) - set(touching):  # an arm grazing the border is not continued
        layer[:, column, 3] = 0
    sigma = max(1.0, layer.shape[0] / 150)
    for column in touching:
        band = bands[column].astype(np.float32)  # the outermost columns: a ragged cut may miss the very last one
        weight = band[..., 3:4] / 255
        alpha = np.maximum.accumulate(cv2.GaussianBlur(band[..., 3].max(axis=1, keepdims=True), (1, 0), sigma).ravel())
        colours = (band[..., :3] * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), 1e-3)
        weight = weight.max(axis=1)
        colours = cv2.GaussianBlur(colours * weight, (1, 0), sigma) / np.maximum(
            cv2.GaussianBlur(weight, (1, 0), sigma), 1e-3)
        layer[:, column, :3] = np.clip(colours, 0, 255).astype(np.uint8)
        layer[:, column, 3] = np.clip(alpha, 0, 255).astype(np.uint8)
    return layer


def _shoulder_extension(edge: np.ndarray, count: int) -> np.ndarray:
    """``count`` columns continuing a layer's border column outward (nearest first), falling like a shoulder:
    column d is the border column moved down by ``SHOULDER_SLOPE * d`` rows."""
    shifts = np.round(SHOULDER_SLOPE * np.arange(1, count + 1)).astype(int)
    rows = np.clip(np.arange(len(edge))[:, None] - shifts[None, :], 0, len(edge) - 1)
    return edge[rows]


def warp_layer(layer: np.ndarray, placement: Placement, box: tuple[int, int, int, int]) -> np.ndarray:
    """An RGBA layer on the canvas region ``box``: resized (bicubic when enlarged, area when reduced) and placed at
    the nearest whole pixel (a resize is ten times faster than a bicubic warp). Where the layer's clothes touch its
    own border (the source photo cut the shoulders or the chest), they continue by repeating the border, so the
    jacket reaches the canvas edges."""
    x0, y0, x1, y1 = box
    height, width = layer.shape[:2]
    layer = _clean_side_edges(layer)
    size = (max(1, round(width * placement.scale)), max(1, round(height * placement.scale)))
    interpolation = cv2.INTER_CUBIC if placement.scale > 1 else cv2.INTER_AREA
    resized = cv2.resize(layer, size, interpolation=interpolation)
    # cv2.resize maps pixel centres: layer x -> (x + 0.5) * f - 0.5; the placement maps layer x -> s x + t
    fx, fy = size[0] / width, size[1] / height
    ox = round(placement.matrix[0, 2] - 0.5 * fx + 0.5)
    oy = round(placement.matrix[1, 2] - 0.5 * fy + 0.5)
    # the box in the resized layer's pixels; what lies outside it repeats the border
    lx0, ly0, lx1, ly1 = x0 - ox, y0 - oy, x1 - ox, y1 - oy
    cx0, cy0 = min(max(lx0, 0), size[0] - 1), min(max(ly0, 0), size[1] - 1)
    cx1, cy1 = max(min(lx1, size[0]), cx0 + 1), max(min(ly1, size[1]), cy0 + 1)
    inside = resized[cy0:cy1, cx0:cx1]
    top, bottom, left, right = max(0, cy0 - ly0), max(0, ly1 - cy1), max(0, cx0 - lx0), max(0, lx1 - cx1)
    if top or bottom:
        inside = cv2.copyMakeBorder(inside, top, bottom, 0, 0, cv2.BORDER_REPLICATE)
    if left or right:
        parts = [_shoulder_extension(inside[:, 0], left)[:, ::-1]] if left else []
        parts += [inside] + ([_shoulder_extension(inside[:, -1], right)] if right else [])
        inside = np.concatenate(parts, axis=1)
    # a box entirely beside the layer: the repeated border row/column, cropped to the box
    return np.ascontiguousarray(inside[: y1 - y0, : x1 - x0])
