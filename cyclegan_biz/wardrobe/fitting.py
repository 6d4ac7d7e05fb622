"""Fitting an outfit under a person's head: placement, skin, head and hair matte, the jaw seam, sharpness and grain.

Everything works on the output canvas (the headshot frame): ``photo`` is the user's photo warped onto it,
``person`` its soft person matte, ``face`` the landmarks in canvas pixels. The result is composited over a flat
background colour. The user's neck below the jaw is never relied on: the outfit's own neck/chest skin, recoloured to
the user's cheeks, joins the jaw through a multi-band (Laplacian pyramid) blend.

Layers, bottom to top: background, the outfit's skin, the outfit's clothes, the user's head (face, ears, hair, a
beard, long hair in front of the shoulders), the exact face core (``compose.paste_face`` by the caller).

This module picks the outfit and runs the fit; the parts live in ``placement`` (scale, position, warp), ``skin``
(colour, painted neck), ``head`` (head and hair matte), ``detail`` (sharpness, grain) and ``blends`` (jaw seam).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compose import flat_image
from ..errors import UnreadableImageError
from ..vision.landmarks import Face
from .appearance import CHEEK_LEFT, CHEEK_RIGHT
from .blends import BLENDS, DEFAULT_BLEND, SEAM_WIDTH, blend_seam, laplacian_blend, seam_box, seam_stats
from .detail import (
    DETAIL_FACE_PX,
    MAX_DETAIL_RATIO,
    MIN_DETAIL_RATIO,
    SOFTEN_SIGMAS,
    add_grain,
    detail_energy,
    detail_sigma,
    face_detail,
    grain,
    match_detail,
)
from .head import (
    BEARD_DARKER,
    BEARD_REACH,
    EAR_LINE,
    EAR_REACH,
    HEAD_LINE,
    JAW_MARGIN,
    LIKELY,
    estimate_turn_and_light,
    head_matte,
)
from .outfit import Outfit
from .placement import (
    CHIN_POINTS,
    MAX_CHIN_TO_COLLAR,
    MAX_WIDEN,
    MIN_EDGE_COVER,
    SHOULDER_SLOPE,
    Placement,
    layer_box,
    place_outfit,
    warp_layer,
)
from .skin import (
    CHEEK_POINTS,
    NECK_HALF_WIDTH,
    NECK_SHADE,
    SKIN_BROAD_SHADING_KEPT,
    SKIN_FINE_DETAIL_KEPT,
    SKIN_SHADING_SIGMA,
    _over,
    cheek_lab,
    face_grain,
    jaw_rim_lightness,
    lab_pixels,
    lab_to_rgb,
    lit_cheek_lab,
    neck_colour,
    paint_neck,
    recolour_skin,
    row_span,
)
from .vocabulary import ATTIRE_AUTO, OUTFIT_AUTO

# The parts moved to their own modules (placement, skin, head, detail, blends) stay importable from here.
__all__ = [
    "BEARD_DARKER", "BEARD_REACH", "BLENDS", "CHEEK_LEFT", "CHEEK_POINTS", "CHEEK_RIGHT", "CHEST_HALF_WIDTH",
    "CHIN_POINTS", "CUT_CACHE_SIZE", "DEFAULT_BLEND", "DETAIL_FACE_PX", "EAR_LINE", "EAR_REACH", "HEAD_LINE",
    "JAW_MARGIN", "LIKELY", "MAX_CHIN_TO_COLLAR", "MAX_DETAIL_RATIO", "MAX_WIDEN", "MIN_DETAIL_RATIO",
    "MIN_EDGE_COVER", "NECK_HALF_WIDTH", "NECK_SHADE", "PHOTO_SUFFIXES", "SEAM_WIDTH", "SHOULDER_SLOPE",
    "SKIN_BROAD_SHADING_KEPT", "SKIN_FINE_DETAIL_KEPT", "SKIN_SHADING_SIGMA", "SOFTEN_SIGMAS", "FitResult",
    "Placement", "add_grain", "blend_seam", "cheek_lab", "cut_outfit_cached", "detail_energy", "detail_sigma",
    "estimate_turn_and_light", "face_detail", "face_grain", "fit_outfit", "grain", "head_matte", "lab_pixels",
    "lab_to_rgb", "laplacian_blend", "layer_box", "lit_cheek_lab", "match_detail", "neck_colour", "paint_neck",
    "place_outfit", "recolour_skin", "resolve_outfit", "row_span", "seam_box", "seam_stats", "warp_layer",
]

# The outfit's own skin shows at most this far (face sizes) either side of the chin: neck, collarbones, a V-neck.
CHEST_HALF_WIDTH = 0.55
# outfit= values with these endings are photos, not outfit ids.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp")
# Outfits cut from users' photos, by file hash (and attire): cutting takes a pose and a mesh run.
CUT_CACHE_SIZE = 16
_cut_cache: OrderedDict[tuple[str, str | None], Outfit] = OrderedDict()
_cut_lock = threading.Lock()


@dataclass
class FitResult:
    image: np.ndarray  # HxWx3 uint8, over the background colour
    person: np.ndarray  # float32 HxW soft matte of head + outfit
    placement: Placement
    head: np.ndarray  # float32 HxW weight of the user's own pixels


# --- which outfit ---------------------------------------------------------------------------------------------------
def resolve_outfit(value: str | os.PathLike, attire: str | None, yaw: float = 0.0, light: float = 0.0) -> Outfit:
    """The outfit ``outfit=`` asks for: "auto" (the wardrobe's default for ``attire``, mirrored to match the head
    turn and light), an outfit id, or the path of a photo (its outfit cut on the fly, cached by file hash).
    Raises ``UnknownOutfitError`` or ``NoOutfitError`` with what to do."""
    from .catalogue import choose_outfit, get_outfit

    text = os.fspath(value)
    attire = None if attire in (None, ATTIRE_AUTO) else attire
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


# --- the whole fit ----------------------------------------------------------------------------------------------------
def fit_outfit(photo: np.ndarray, person: np.ndarray, face: Face, outfit: Outfit,
               background: tuple[int, int, int], shoulders: tuple[np.ndarray, np.ndarray] | None = None,
               blend: str = DEFAULT_BLEND, inside: np.ndarray | None = None) -> FitResult:
    """The outfit fitted under the user's head on the canvas of ``photo`` (see the module docstring).

    ``photo``: HxWx3 uint8 canvas of the user's photo; ``person``: float32 HxW person matte; ``face``: landmarks in
    canvas pixels; ``shoulders``: (left, right) canvas points, only when the pose model saw both inside the photo;
    ``inside``: uint8 canvas mask of where the photo is (beyond it ``photo`` may be the photo mirrored at its edge:
    only hair is kept there)."""
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
        clothes_mask = np.zeros((height, width), dtype=bool)
        clothes_mask[y0:y1, x0:x1] = clothes_alpha > 0.5
        face_noise = face_grain(photo, face)
        paint_neck(composite, matte, face, placement, outfit, neck_colour(cheeks), clothes_mask, face_noise,
                   jaw_rim_lightness(photo, face))
        skin_rgb = recolour_skin(skin[..., :3], skin_alpha, cheeks, face.size())
        clothes_rgb = match_detail(np.ascontiguousarray(clothes[..., :3]), clothes_alpha, face.size(),
                                   face_detail(photo, face), placement.scale)
        clothes_rgb = add_grain(clothes_rgb, clothes_alpha, face_noise)
        region = composite[y0:y1, x0:x1]
        region[...] = _over(_over(region, skin_rgb, skin_alpha), clothes_rgb, clothes_alpha)
        np.maximum(matte[y0:y1, x0:x1], np.maximum(clothes_alpha, skin_alpha), out=matte[y0:y1, x0:x1])
    head = head_matte(photo, person, face, inside=inside)
    composite = _over(composite, photo, head)
    seam = seam_box(face, placement, outfit, width, height)
    person_matte = np.maximum(matte, head)
    composite = blend_seam(composite, photo, head, person_matte, seam, blend, face.size())
    return FitResult(composite, person_matte, placement, head)


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
