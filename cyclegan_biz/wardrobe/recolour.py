"""Recolouring a jacket before its outfit is cut: colours of suit the redistributable portraits do not offer.

The chosen list asks for it with ``colour=<name>`` (see ``collection.read_chosen``). The jacket keeps its own
fabric, folds and shading; only its lightness level and its a*b* (hue and chroma) move to the target colour. The
shirt, tie and skin are left alone: only pixels close to the jacket's colour model, connected to the jacket at the
sides, are changed.
"""

from __future__ import annotations

import cv2
import numpy as np

from .appearance import ColourModel, connected_to
from .skin import lab_to_rgb

# Target jacket colours in Lab (L 0-100). "brown": a mid brown inside the range of the brown suits among the
# business portraits, none of which can be cut (us-congress B000420, B000657, C000556, K000220, R000409, R000582,
# M001184: the 225x275 crops end at the chest, fitted they are stretched bands; uk-parliament Brendan_O'Hara: hair
# and ear over the collar). Their jacket colours (median of the photo's bottom corners): L 22-43, a* -2..8, b* 8-30,
# median (37, 3, 15); that median looked olive beside them on a contact sheet, so a* and b* are taken warmer.
JACKET_COLOURS: dict[str, tuple[float, float, float]] = {"brown": (34.0, 7.0, 17.0)}

# Mahalanobis distance to the jacket's colour model (median-filtered over 5x5 pixels, so that the fabric's grain
# does not leave specks of the old colour): fully jacket below the first, not jacket above the second.
JACKET_NEAR, JACKET_FAR = 3.5, 5.5
# Chroma follows lightness in a dyed fabric (shadows are greyer): scaled by L / L_target within these bounds.
CHROMA_SCALE = (0.4, 1.4)


def check_jacket_colour(colour: str) -> str:
    """``colour`` if a jacket can be recoloured to it, else ``ValueError`` naming the choices."""
    if colour not in JACKET_COLOURS:
        raise ValueError(f"Cannot recolour a jacket {colour!r}; choose one of {', '.join(JACKET_COLOURS)}.")
    return colour


def jacket_weight(lab: np.ndarray, clothes: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """How much each pixel is jacket (float 0-1): close in colour to the jacket ``sample`` (a mask of pixels known to
    be jacket, at the sides) and connected to it through jacket-coloured clothes."""
    model = ColourModel.fit(lab[sample], floor=2.0)
    if model is None:
        return np.zeros(clothes.shape, dtype=np.float32)
    distance = cv2.medianBlur(model.distance(lab).astype(np.float32), 5)
    weight = np.clip((JACKET_FAR - distance) / (JACKET_FAR - JACKET_NEAR), 0.0, 1.0) * clothes
    weight *= connected_to(weight > 0, sample)
    return cv2.GaussianBlur(weight.astype(np.float32), (0, 0), 0.7)


def recolour_jacket(photo: np.ndarray, lab: np.ndarray, weight: np.ndarray, jacket_lab: np.ndarray,
                    colour: str) -> np.ndarray:
    """``photo`` (HxWx3 uint8 RGB, ``lab`` its Lab) with the jacket (``weight``, see ``jacket_weight``; median colour
    ``jacket_lab``) turned to the named colour of ``JACKET_COLOURS``. ``KeyError`` for an unknown name."""
    target = np.asarray(JACKET_COLOURS[colour], dtype=np.float32)
    lightness = np.clip(lab[..., 0] + (target[0] - jacket_lab[0]), 0.0, 100.0)
    scale = np.clip(lightness / target[0], *CHROMA_SCALE)[..., None]
    chroma = lab[..., 1:] - jacket_lab[1:] + target[1:] * scale
    recoloured = lab_to_rgb(np.dstack([lightness, chroma]))
    alpha = weight[..., None]
    return np.clip(photo * (1.0 - alpha) + recoloured * alpha + 0.5, 0, 255).astype(np.uint8)
