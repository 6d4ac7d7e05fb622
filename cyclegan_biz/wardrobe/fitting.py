"""Fitting an outfit under a person's head: placement, skin, head and hair matte, the jaw seam, sharpness and grain.

Everything works on the output canvas (the headshot frame): ``photo`` is the user's photo warped onto it,
``person`` its soft person matte, ``face`` the landmarks in canvas pixels. The result is composited over a flat
background colour. The user's neck below the jaw is never relied on: the outfit's own neck/chest skin, recoloured to
the user's cheeks, joins the jaw through a multi-band (Laplacian pyramid) blend.

Layers, bottom to top: background, the outfit's skin, the outfit's clothes, the user's head (face, ears, hair, a
beard, long hair in front of the shoulders), the exact face core (``compose.paste_face`` by the caller).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..compose import flat_image
from ..errors import UnreadableImageError
from ..vision.landmarks import Face
from .builder import CHEEK_LEFT, CHEEK_RIGHT, ColourModel, head_yaw, light_side, to_lab
from .outfit import Outfit
from .vocabulary import OUTFIT_AUTO

# Mesh points (mediapipe's 478-point face mesh): the cheeks and chin the builder samples too.
CHEEK_POINTS = CHEEK_LEFT + CHEEK_RIGHT
CHIN_POINTS = (152, 148, 176, 149, 377, 400, 378, 175, 199, 200)
# The user's head is kept down to the jaw line plus this margin (face sizes): little of the neck, never a lot.
JAW_MARGIN = 0.03
# Above this line (eye line + this many face sizes) the whole person matte is the head (ears, side hair); below it
# only the face and what is hair- or beard-coloured and connected to the head.
HEAD_LINE = 0.42
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
# Above this line (eye line + this many face sizes) all of the person is kept, between it and HEAD_LINE only hair
# and skin.
EAR_LINE = 0.15
# Ears: person pixels this close to the face (face sizes) are kept above the head line whatever their colour.
EAR_REACH = 0.18
# A pixel is like a colour model within this Mahalanobis distance.
LIKELY = 3.0
# A chin this much darker (Lab L) than the cheeks has a beard.
BEARD_DARKER = 20.0
# How far below the chin a beard may reach (face sizes).
BEARD_REACH = 0.12
# The outfit's own skin shows at most this far (face sizes) either side of the chin: neck, collarbones, a V-neck.
CHEST_HALF_WIDTH = 0.55
# Half the width of the neck (face sizes; a neck is about as wide as the face size, 2 eye distances): the painted
# neck's width, and below the chin hair is only kept outside this column.
NECK_HALF_WIDTH = 0.42
# Lightness of neck skin relative to the cheeks (Lab L units, neck darker), from real portraits (see docs).
NECK_SHADE = 6.0
# The outfit's skin layer keeps this share of the wearer's shading coarser than a Gaussian of sigma SKIN_SHADING_SIGMA x
# face size, and SKIN_FINE_DETAIL_KEPT of what is finer: seen on contact sheets, the full shading drew the wearer's
# jaw line and neck folds on the user's neck and chest, and kept whole, the finer detail (enlarged 2-5x from small
# sources) still drew them as thin lines.
SKIN_BROAD_SHADING_KEPT = 0.25
SKIN_FINE_DETAIL_KEPT = 0.3
SKIN_SHADING_SIGMA = 0.025
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
# outfit= values with these endings are photos, not outfit ids.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp")
# Outfits cut from users' photos, by file hash (and attire): cutting takes a pose and a mesh run.
CUT_CACHE_SIZE = 16
_cut_cache: OrderedDict[tuple[str, str | None], Outfit] = OrderedDict()
_cut_lock = threading.Lock()


@dataclass
class Placement:
    """Outfit layer pixels -> canvas pixels (a similarity transform without rotation: the outfit stays level)."""

    matrix: np.ndarray  # 2x3
    scale: float
    basis: str  # "face" or "shoulders"


@dataclass
class FitResult:
    image: np.ndarray  # HxWx3 uint8, over the background colour
    person: np.ndarray  # float32 HxW soft matte of head + outfit
    placement: Placement
    head: np.ndarray  # float32 HxW weight of the user's own pixels


# --- reading the user's head ------------------------------------------------------------------------------------------
def _sample(image: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    """Pixels in small squares around ``points`` (N x 3 float32), clipped to the image."""
    height, width = image.shape[:2]
    patches = []
    for x, y in np.round(points).astype(int):
        x0, x1 = max(0, x - radius), min(width, x + radius + 1)
        y0, y1 = max(0, y - radius), min(height, y + radius + 1)
        if x1 > x0 and y1 > y0:
            patches.append(image[y0:y1, x0:x1].reshape(-1, image.shape[2]))
    return np.concatenate(patches).astype(np.float32) if patches else np.zeros((0, image.shape[2]), np.float32)


def lab_pixels(rgb: np.ndarray) -> np.ndarray:
    """N x 3 RGB pixels (any dtype 0..255) -> N x 3 float32 Lab."""
    return to_lab(np.asarray(rgb, dtype=np.uint8).reshape(-1, 1, 3)).reshape(-1, 3)


def cheek_lab(image: np.ndarray, face: Face, points: tuple[int, ...] = CHEEK_POINTS) -> np.ndarray:
    """Median Lab colour of the upper cheeks (of ``points``: both cheeks by default)."""
    radius = max(1, int(round(0.02 * face.size())))
    pixels = _sample(image, face.points[list(points)], radius)
    return np.median(lab_pixels(pixels), axis=0)


def lit_cheek_lab(image: np.ndarray, face: Face) -> np.ndarray:
    """The skin colour the painted neck starts from: the lighter cheek's. With light from one side, the median of
    both cheeks is half shadow and painted a dark brown neck under a lit jaw (seen on casual photos)."""
    sides = [cheek_lab(image, face, side) for side in (CHEEK_LEFT, CHEEK_RIGHT)]
    return max(sides, key=lambda lab: lab[0])


# --- which outfit ---------------------------------------------------------------------------------------------------
def resolve_outfit(value: str | os.PathLike, attire: str | None, yaw: float = 0.0, light: float = 0.0) -> Outfit:
    """The outfit ``outfit=`` asks for: "auto" (the wardrobe's default for ``attire``, mirrored to match the head
    turn and light), an outfit id, or the path of a photo (its outfit cut on the fly, cached by file hash).
    Raises ``UnknownOutfitError`` or ``NoOutfitError`` with what to do."""
    from .catalogue import choose_outfit, get_outfit

    text = os.fspath(value)
    attire = None if attire in (None, "auto") else attire
    if text == OUTFIT_AUTO:
        return choose_outfit(attire, yaw=yaw, light=light)
    path = Path(text).expanduser()
    if path.is_file():
        return cut_outfit_cached(path, attire)
    if os.sep in text or "/" in text or path.suffix.lower() in PHOTO_SUFFIXES:
        raise UnreadableImageError(f"{text}: no such outfit photo. Check the path, or run `cyclegan-biz outfits` "
                                   "for the ids of the shipped outfits.")
    return get_outfit(text)


def cut_outfit_cached(path: Path, attire: str | None = None) -> Outfit:
    """The outfit worn in the photo at ``path`` (``builder.cut_outfit``), remembered by the file's SHA-256."""
    from ..imageio import load_rgb_array
    from .builder import cut_outfit

    data = path.read_bytes()
    key = (hashlib.sha256(data).hexdigest(), attire)
    with _cut_lock:
        if key in _cut_cache:
            _cut_cache.move_to_end(key)
            return _cut_cache[key]
    outfit = cut_outfit(load_rgb_array(data), attire=attire, outfit_id=f"photo:{path.name}",
                        source=str(path.name), licence="the user's own photo")
    with _cut_lock:
        _cut_cache[key] = outfit
        while len(_cut_cache) > CUT_CACHE_SIZE:
            _cut_cache.popitem(last=False)
    return outfit


# --- placement --------------------------------------------------------------------------------------------------------
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
    chin = face.points[CHIN_POINTS[0]].astype(np.float64)
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


# --- skin -------------------------------------------------------------------------------------------------------------
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
    out = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float32 Lab (... x 3) -> uint8 RGB."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32).reshape(-1, 1, 3), cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8).reshape(np.shape(lab))


def paint_neck(composite: np.ndarray, matte: np.ndarray, face: Face, placement: Placement, outfit: Outfit,
               neck_lab: np.ndarray, clothes_span: np.ndarray, noise_sigma: float = 0.0) -> None:
    """A plain neck under the outfit's own skin layer (in place; ``matte`` gets its weight): the hull of the jaw
    near the chin and a neck's width where the clothes start under the chin, in the user's neck colour, a little
    darker under the chin and at the sides; below it continues down to the bottom, but only inside ``clothes_span``
    (canvas bool: between the clothes' left and right edges on each row), which fills a neckline's V and leaves no
    background where the soft edges of clothes and skin meet. Outfits whose skin layer is small or missing still
    get a neck. ``noise_sigma``: the face's noise level, added so the neck is not smoother than the face."""
    size = face.size()
    outline = face.points[face.groups["outline"]]
    chin = face.points[CHIN_POINTS[0]]
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
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 4, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 4, (width, height))
    if x1 <= x0 or y1 <= y0:
        return
    shape = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillConvexPoly(shape, np.round(deep - (x0, y0)).astype(np.int32), 1)
    shape &= clothes_span[y0:y1, x0:x1].astype(np.uint8)
    cv2.fillConvexPoly(shape, np.round(neck - (x0, y0)).astype(np.int32), 1, lineType=cv2.LINE_AA)
    weight = cv2.GaussianBlur(shape.astype(np.float32), (0, 0), max(1.0, 0.008 * size))
    rows = np.arange(y0, y1, dtype=np.float32)
    columns = np.arange(x0, x1, dtype=np.float32)
    # shading: the chin's shadow under it, and the neck's sides turning away from the light
    under_chin = np.clip(1 - (rows - float(chin[1])) / (0.25 * size), 0, 1) * 8.0
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


def row_span(mask: np.ndarray) -> np.ndarray:
    """bool mask: on each row, everything between the first and the last set pixel of ``mask``."""
    any_row = mask.any(axis=1)
    first = np.where(any_row, mask.argmax(axis=1), mask.shape[1])
    last = np.where(any_row, mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1), -1)
    columns = np.arange(mask.shape[1])
    return (columns[None, :] >= first[:, None]) & (columns[None, :] <= last[:, None])


# --- the user's head --------------------------------------------------------------------------------------------------
def _distance(lab: np.ndarray, model: ColourModel | None) -> np.ndarray:
    """Mahalanobis distance of every pixel to ``model`` (infinite without a model: nothing is like it)."""
    if model is None:
        return np.full(lab.shape[:2], np.inf, dtype=np.float32)
    return model.distance(lab)


def estimate_turn_and_light(image: np.ndarray, face: Face) -> tuple[float, float]:
    """(yaw, light) of the user's head as the builder measures them on outfits (``builder.head_yaw``,
    ``builder.light_side``), so outfits can be picked or mirrored to match."""
    x0, y0, x1, y1 = (int(v) for v in face.box)
    x0, y0 = max(0, x0), max(0, y0)
    crop = np.ascontiguousarray(image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)])
    local = face.transformed(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]))
    return head_yaw(face), light_side(to_lab(crop), local)


def _connected(candidates: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The pixels of ``candidates`` connected (8-neighbours, through candidates) to ``seed``."""
    if not candidates.any() or not seed.any():
        return np.zeros_like(candidates)
    _, labels = cv2.connectedComponents((candidates | seed).astype(np.uint8), connectivity=8)
    attached = np.unique(labels[seed])
    return np.isin(labels, attached[attached > 0]) & candidates


def head_matte(photo: np.ndarray, person: np.ndarray, face: Face, work_width: int = 256) -> np.ndarray:
    """float32 weight of the user's own pixels on the canvas: the face down to just below the jaw, everything of
    the person above the head line (ears, side hair, hats), and, below it, hair and beard connected to the head
    (colour models from above the brows and from the chin). Never a straight horizontal cut: below the head line
    the boundary follows the jaw and the hair's colour. Works at ``work_width`` and is upsampled."""
    height, width = photo.shape[:2]
    k = work_width / width
    small_h = max(1, int(round(height * k)))
    small = cv2.resize(photo, (work_width, small_h), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(person, (work_width, small_h), interpolation=cv2.INTER_AREA) > 0.5
    points = face.points * k
    size = face.size() * k
    lab = to_lab(small)
    yy, xx = np.mgrid[0:small_h, 0:work_width]

    # 1. the face to the jaw (+ margin), and all of the person above the head line
    outline = points[face.groups["outline"]]
    centre = outline.mean(axis=0)
    grown = centre + (outline - centre) * (1 + JAW_MARGIN * size / max(np.ptp(outline[:, 1]) / 2, 1e-6))
    core = np.zeros((small_h, work_width), dtype=np.uint8)
    cv2.fillConvexPoly(core, np.round(cv2.convexHull(grown.astype(np.float32))).astype(np.int32).reshape(-1, 2), 1)
    eye_y = float(np.mean([p[1] for p in (points[face.groups["eye_a"]].mean(0), points[face.groups["eye_b"]].mean(0))]))
    line = eye_y + HEAD_LINE * size
    # 2. colour models: hair (above the brows, outside the face), skin (cheeks), beard (chin, when unlike cheeks)
    brow_top = points[face.groups["brows"], 1].min()
    hair_zone = mask & (yy < brow_top - 0.1 * size) & (np.abs(xx - centre[0]) < 0.9 * size) & ~core.astype(bool)
    hair_distance = _distance(lab, ColourModel.fit(lab[hair_zone], floor=6.0))
    hair_like = hair_distance < LIKELY
    chin = points[list(CHIN_POINTS)]
    chin_pixels = _sample(lab, chin + np.array([0, -0.03 * size]), max(1, int(0.02 * size)))
    cheek_pixels = _sample(lab, points[list(CHEEK_POINTS)], max(1, int(0.02 * size)))
    # a wide skin model: necks and shoulders are often paler or darker than the cheeks
    skin_distance = _distance(lab, ColourModel.fit(cheek_pixels, floor=16.0))
    skin_like = skin_distance < LIKELY
    # everything of the person above the ears' middle (hats, buns); from there to the head line only the ears (next
    # to the face), hair and skin: a hood or a high collar further out is clothing
    ears = eye_y + EAR_LINE * size
    reach = max(1, int(round(EAR_REACH * size)))
    near_face = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    band = near_face.astype(bool) | hair_like | skin_like
    keep = core.astype(bool) | (mask & ((yy < ears) | ((yy < line) & band)))
    beard = None
    if len(chin_pixels) and np.median(cheek_pixels[:, 0]) - np.median(chin_pixels[:, 0]) > BEARD_DARKER:
        beard = ColourModel.fit(chin_pixels, floor=6.0)  # the chin much darker than the cheeks: a beard
    # below the line skin-coloured pixels are never hair, and hair must be closer to the hair's colour than to the
    # skin's (with red or blond hair, shaded neck and shoulder skin is often within reach of the hair's model): the
    # user's neck goes, the outfit's comes
    hair_like &= hair_distance < 0.8 * skin_distance
    below = mask & ~keep & ~skin_like
    chin_x, chin_y = points[CHIN_POINTS[0]]
    # long hair hangs beside the neck, not in front of it: below the chin the neck's column is the outfit's
    beside_neck = (yy < chin_y) | (np.abs(xx - chin_x) > NECK_HALF_WIDTH * size)
    # long hair: hair-coloured and connected to the hair above the line (not merely to the face: a dark collar
    # beside the neck of a short-haired man touches the jaw, not the hair)
    hair_below = cv2.morphologyEx((below & hair_like & beside_neck).astype(np.uint8), cv2.MORPH_CLOSE,
                                  np.ones((5, 5), np.uint8)).astype(bool) & mask  # curls: fill the specks
    long_hair = _connected(hair_below, keep & hair_like & ~core.astype(bool))
    # a beard is darker than the skin (a shaded neck under stubble is not: it is left to the outfit's neck)
    darker = lab[..., 0] < np.median(cheek_pixels[:, 0]) - BEARD_DARKER / 2
    beard_like = below & darker & (_distance(lab, beard) < LIKELY) & (yy < chin_y + BEARD_REACH * size)
    beard_like = cv2.morphologyEx(beard_like.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0
    keep |= long_hair | _connected(beard_like & mask, core.astype(bool))
    # a little opening: stray specks of hair-coloured jacket do not count
    opened = cv2.morphologyEx(keep.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    keep = opened.astype(bool) | core.astype(bool)

    sigma = max(0.6, 0.012 * size)
    soft = cv2.resize(cv2.GaussianBlur(keep.astype(np.float32), (0, 0), sigma), (width, height),
                      interpolation=cv2.INTER_LINEAR)
    # the face is the person's whatever the segmentation says (soft or torn at the jaw)
    face_soft = cv2.resize(cv2.GaussianBlur(core.astype(np.float32), (0, 0), sigma), (width, height),
                           interpolation=cv2.INTER_LINEAR)
    return np.maximum(np.minimum(soft, person), face_soft)


# --- sharpness and grain ----------------------------------------------------------------------------------------------
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


# Clothes detail is compared with the face's at the measurement scale of ``evaluation.sharpness`` (a face of about
# 105 px, high-pass sigma 1 px). Real business portraits: clothes/face ratio median 0.82, 5th-95th percentile
# 0.32-1.54 (1,480 portraits, ``evaluation/data/real_ranges.json``). Outfits from sharp studio portraits on a soft
# selfie face came out at a median 1.48 on eval/canada (only 55-64 % in that range): the clothes are softened to
# the face's detail when they exceed ``MAX_DETAIL_RATIO``, and sharpened only when clearly softer.
DETAIL_FACE_PX = 105.0
MAX_DETAIL_RATIO = 1.0
MIN_DETAIL_RATIO = 0.5
SOFTEN_SIGMAS = (0.4, 0.7, 1.0, 1.4, 2.0)  # tried in order, in measurement-scale pixels


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


# --- blends -----------------------------------------------------------------------------------------------------------
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
    y1 = int(max(collar_y, face.points[CHIN_POINTS[0], 1] + 0.25 * size) + 0.1 * size)
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


# --- the whole fit ----------------------------------------------------------------------------------------------------
def _over(base: np.ndarray, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    return cv2.blendLinear(rgb, base, alpha, 1.0 - alpha)


def fit_outfit(photo: np.ndarray, person: np.ndarray, face: Face, outfit: Outfit,
               background: tuple[int, int, int], shoulders: tuple[np.ndarray, np.ndarray] | None = None,
               blend: str = DEFAULT_BLEND) -> FitResult:
    """The outfit fitted under the user's head on the canvas of ``photo`` (see the module docstring).

    ``photo``: HxWx3 uint8 canvas of the user's photo; ``person``: float32 HxW person matte; ``face``: landmarks in
    canvas pixels; ``shoulders``: (left, right) canvas points, only when the pose model saw both inside the photo."""
    if blend not in BLENDS:
        raise ValueError(f"Unknown blend {blend!r}; choose one of {', '.join(BLENDS)}.")
    height, width = photo.shape[:2]
    placement = place_outfit(outfit, face, shoulders, (width, height))
    composite = flat_image(height, width, background)
    matte = np.zeros((height, width), dtype=np.float32)
    box = layer_box(outfit, placement, width, height)
    x0, y0, x1, y1 = box
    if x1 > x0 and y1 > y0:
        clothes = warp_layer(outfit.clothes, placement, box)
        skin = warp_layer(outfit.skin, placement, box)
        clothes_alpha = clothes[..., 3].astype(np.float32) * (1 / 255)
        skin_alpha = skin[..., 3].astype(np.float32) * (1 / 255) * _chest_window(face, box, placement, outfit)
        cheeks = lit_cheek_lab(photo, face)
        span = np.zeros((height, width), dtype=bool)
        span[y0:y1, x0:x1] = row_span(clothes_alpha > 0.5)
        face_noise = face_grain(photo, face)
        paint_neck(composite, matte, face, placement, outfit, neck_colour(cheeks), span, face_noise)
        skin_rgb = recolour_skin(skin[..., :3], skin_alpha, cheeks, face.size())
        clothes_rgb = match_detail(np.ascontiguousarray(clothes[..., :3]), clothes_alpha, face.size(),
                                   face_detail(photo, face), placement.scale)
        clothes_rgb = add_grain(clothes_rgb, clothes_alpha, face_noise)
        region = composite[y0:y1, x0:x1]
        region[...] = _over(_over(region, skin_rgb, skin_alpha), clothes_rgb, clothes_alpha)
        np.maximum(matte[y0:y1, x0:x1], np.maximum(clothes_alpha, skin_alpha), out=matte[y0:y1, x0:x1])
    head = head_matte(photo, person, face)
    composite = _over(composite, photo, head)
    seam = seam_box(face, placement, outfit, width, height)
    composite = blend_seam(composite, photo, head, np.maximum(matte, head), seam, blend, face.size())
    return FitResult(composite, np.maximum(matte, head), placement, head)


def _chest_window(face: Face, box: tuple[int, int, int, int], placement: Placement, outfit: Outfit) -> np.ndarray:
    """Where the outfit's skin may show, on ``box``: a neck's width at the collar, widening downward like the base
    of a neck into the chest (no straight horizontal edge), at most ``CHEST_HALF_WIDTH`` of the chin (wider skin in
    a cut-out is the wearer's hair or shoulders left behind), and not right under the wearer's own chin, whose
    shadow the layer may carry (the painted neck shows there)."""
    x0, y0, x1, y1 = box
    size = face.size()
    chin = face.points[CHIN_POINTS[0]]
    across = np.abs(np.arange(x0, x1, dtype=np.float32) - chin[0]) / size
    rows = np.arange(y0, y1, dtype=np.float32)
    collar_y = min(outfit.anchor("neck_left")[1], outfit.anchor("neck_right")[1])
    level = max(collar_y, outfit.anchor("chin")[1] + 0.3 * outfit.face_size) * placement.scale + placement.matrix[1, 2]
    below = (rows - level) / size
    allowed = np.clip(NECK_HALF_WIDTH + np.maximum(below, 0.0), 0.0, CHEST_HALF_WIDTH)
    fade_in = np.clip(below / 0.15 + 1, 0, 1)  # above the level only inside the neck's column, over the paint
    return np.clip((allowed[:, None] - across[None, :]) / 0.05, 0.0, 1.0) * fade_in[:, None]


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


# --- seam statistics --------------------------------------------------------------------------------------------------
def seam_stats(image: np.ndarray, face: Face, collar_y: float | None = None) -> dict[str, float]:
    """Two checks of the chin-to-collar band, without learning: ``gradient_ratio`` = the strongest row of vertical
    lightness gradient over the band's median row (a straight cut scores high), and ``cheek_neck_distance`` = Lab
    distance between the cheeks and the skin just below the chin."""
    size = face.size()
    chin = face.points[CHIN_POINTS[0]]
    outline = face.points[face.groups["outline"]]
    half = 0.18 * size
    x0, x1 = int(chin[0] - half), int(chin[0] + half)
    y0 = int(chin[1] - 0.1 * size)
    y1 = int(collar_y if collar_y is not None else chin[1] + 0.3 * size)
    height, width = image.shape[:2]
    x0, x1, y0, y1 = max(0, x0), min(width, x1), max(0, y0), min(height, max(y1, y0 + 4))
    del outline
    band = to_lab(np.ascontiguousarray(image[y0:y1, x0:x1]))[..., 0]
    gradient = np.abs(np.diff(cv2.GaussianBlur(band, (0, 0), 1.0), axis=0)).mean(axis=1)
    ratio = float(gradient.max() / max(np.median(gradient), 1e-3))
    neck = _sample(image, np.array([[chin[0], chin[1] + 0.12 * size]]), max(1, int(0.04 * size)))
    distance = float(np.linalg.norm(np.median(lab_pixels(neck), axis=0) - cheek_lab(image, face)))
    return {"gradient_ratio": ratio, "cheek_neck_distance": distance}
