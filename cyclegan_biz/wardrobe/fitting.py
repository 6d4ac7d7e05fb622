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

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..compose import flat_image
from ..errors import UnreadableImageError
from ..vision.landmarks import MESH_CHIN, Face
from .blends import BLENDS, DEFAULT_BLEND, blend_seam, seam_box
from .detail import add_grain, face_detail, match_detail
from .head import head_matte
from .outfit import Outfit
from .placement import Placement, layer_box, place_outfit, warp_layer
from .skin import (
    NECK_HALF_WIDTH,
    _over,
    face_grain,
    jaw_rim_lightness,
    lit_cheek_lab,
    neck_colour,
    paint_neck,
    recolour_skin,
)
from .vocabulary import ATTIRE_AUTO, OUTFIT_AUTO

# The outfit's own skin shows at most this far (face sizes) either side of the chin: neck, collarbones, a V-neck.
CHEST_HALF_WIDTH = 0.55
# outfit= values with these endings are photos, not outfit ids.
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp")


@dataclass
class FitResult:
    image: np.ndarray  # HxWx3 uint8, over the background colour
    person: np.ndarray  # float32 HxW soft matte of head + outfit
    placement: Placement
    head: np.ndarray  # float32 HxW weight of the user's own pixels


# --- which outfit ---------------------------------------------------------------------------------------------------
def resolve_outfit(value: str | os.PathLike, attire: str | None, yaw: float = 0.0, light: float = 0.0) -> Outfit:
    """The outfit ``outfit=`` asks for: "auto" (the wardrobe's default for ``attire``, mirrored to match the head
    turn and light), an outfit id, or the path of a photo (its outfit cut on the fly, cached:
    ``builder.outfit_from_photo``).
    Raises ``UnknownOutfitError`` or ``NoOutfitError`` with what to do."""
    from .builder import outfit_from_photo
    from .catalogue import choose_outfit, get_outfit

    text = os.fspath(value)
    attire = None if attire in (None, ATTIRE_AUTO) else attire
    if text == OUTFIT_AUTO:
        return choose_outfit(attire, yaw=yaw, light=light)
    path = Path(text).expanduser()
    if path.is_file():
        return outfit_from_photo(path, attire)
    if os.sep in text or "/" in text or path.suffix.lower() in PHOTO_SUFFIXES:
        raise UnreadableImageError(f"{text}: no such outfit photo. Check the path, or run `cyclegan-biz outfits` "
                                   "for the ids of the shipped outfits.")
    return get_outfit(text)


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
        paint_neck(composite, matte, face, neck_colour(cheeks), clothes_mask, face_noise,
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
    chin = face.points[MESH_CHIN]
    across = np.abs(np.arange(x0, x1, dtype=np.float32) - chin[0]) / size
    rows = np.arange(y0, y1, dtype=np.float32)
    collar_y = min(outfit.anchor("neck_left")[1], outfit.anchor("neck_right")[1])
    level = max(collar_y, outfit.anchor("chin")[1] + 0.3 * outfit.face_size) * placement.scale + placement.matrix[1, 2]
    below = (rows - level) / size
    allowed = np.clip(NECK_HALF_WIDTH + np.maximum(below, 0.0), 0.0, CHEST_HALF_WIDTH)
    fade_in = np.clip(below / 0.15 + 1, 0, 1)  # above the level only inside the neck's column, over the paint
    return np.clip((allowed[:, None] - across[None, :]) / 0.05, 0.0, 1.0) * fade_in[:, None]
