"""The re-composite test: fit a real portrait's own outfit back under its (altered) head and measure the error.

For a real portrait never used for outfits, the ideal result of ``pipe(altered, outfit=<the original photo>)`` is
the altered photo itself, reframed. So the Lab error in the chin-to-collar band (``portrait.band_mask``, person
pixels only) between the output and the altered original warped by ``result.framing`` measures how well the fitter
joins a head to an outfit — skin recolouring, neck, seam — with a known answer. Alterations: exposure, white
balance, blur, JPEG (the head of a selfie never matches the outfit photo's light and quality). Variants: ``"neck"``
(the whole altered photo) and ``"chin"`` (the photo cut just below the chin: no neck, the fitter must supply one).

Written against the public pipeline API only: ``fit(image, outfit=path)`` returns an object with ``.image`` (PIL or
HxWx3 uint8) and ``.framing`` (``.matrix``: 2x3 photo -> output pixels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..imageio import load_rgb_array
from ..vision import degrade
from ..vision.geometry import CANONICAL_FACE_SIZE, align_face, compose_affine, invert_affine
from ..vision.landmarks import MESH_CHIN, Face, detect_face
from ..vision.segmentation import person_mask
from ..wardrobe.appearance import to_lab
from .portrait import CROP_SIZE, band_mask

Fitter = Callable[..., Any]
CHIN_MARGIN = 0.03  # face sizes kept below the chin in the "chin" variant
VARIANTS = ("neck", "chin")


def _exposure(rgb: np.ndarray, face_size: float) -> np.ndarray:
    return degrade.exposure(rgb, math.log2(1.6))  # +2/3 stop


def _white_balance(rgb: np.ndarray, face_size: float) -> np.ndarray:
    return degrade.white_balance(rgb, (1.12, 1.0, 0.86))


def _blur(rgb: np.ndarray, face_size: float) -> np.ndarray:
    return degrade.blur(rgb, max(0.5, 0.012 * face_size))


def _jpeg(rgb: np.ndarray, face_size: float) -> np.ndarray:
    return degrade.jpeg(rgb, 25)


ALTERATIONS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "exposure": _exposure, "white_balance": _white_balance, "blur": _blur, "jpeg": _jpeg}


def crop_at_chin(rgb: np.ndarray, chin_y: float, face_size: float) -> np.ndarray:
    """The photo's rows down to just below the chin (the top-left origin, hence the framing, is unchanged)."""
    return rgb[: int(round(chin_y + CHIN_MARGIN * face_size))].copy()


def band_error(output: np.ndarray, matrix: np.ndarray, truth: np.ndarray, face_points: np.ndarray,
               groups: dict, truth_person: np.ndarray | None = None) -> float:
    """Mean CIE76 ΔE in the chin-to-collar band between ``output`` and ``truth`` (a photo; ``matrix`` maps it onto
    the output), over the truth's person pixels. Both are compared in the truth's canonical crop; band pixels the
    output does not show count as black (an output framed to leave the neck out cannot score well)."""
    alignment = align_face(Face(face_points, groups), CROP_SIZE)
    size = (CROP_SIZE, CROP_SIZE)
    output_to_crop = compose_affine(alignment.matrix, invert_affine(matrix))
    out_crop = cv2.warpAffine(output, output_to_crop, size, flags=cv2.INTER_AREA)
    person = person_mask(truth) if truth_person is None else truth_person
    chin = alignment.to_canvas(face_points)[MESH_CHIN]
    usable = (band_mask(chin, CANONICAL_FACE_SIZE * CROP_SIZE, size)
              & (alignment.warp(person) >= 0.5) & alignment.valid_mask(truth.shape).astype(bool))
    if usable.sum() < 20:
        return math.nan
    delta = np.linalg.norm(to_lab(alignment.warp(truth)) - to_lab(out_crop), axis=-1)
    return float(delta[usable].mean())


def _as_array(image: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB") if hasattr(image, "convert") else image))


def recomposite(photo: str | Path, fit: Fitter, alterations: Sequence[str] = tuple(ALTERATIONS),
                variants: Sequence[str] = VARIANTS) -> list[dict[str, Any]]:
    """Band errors of one real portrait, one record per (alteration, variant):
    ``{"photo", "alteration", "variant", "band_delta_e"}`` (``"error"`` instead when the fitter refused)."""
    from ..errors import CycleBizError

    original = load_rgb_array(photo, max_side=None)
    face = detect_face(original, min_face_size=0)
    chin_y, face_size = float(face.points[MESH_CHIN][1]), face.size()
    records = []
    for name in alterations:
        altered = ALTERATIONS[name](original, face_size)
        person = person_mask(altered)
        for variant in variants:
            given = altered if variant == "neck" else crop_at_chin(altered, chin_y, face_size)
            record = {"photo": str(photo), "alteration": name, "variant": variant}
            try:
                result = fit(given, outfit=str(photo))
            except CycleBizError as err:
                records.append({**record, "error": f"{type(err).__name__}: {err}"})
                continue
            record["band_delta_e"] = band_error(_as_array(result.image), np.asarray(result.framing.matrix),
                                                altered, face.points, face.groups, person)
            records.append(record)
    return records


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Mean band ΔE per variant and per (variant, alteration), and how many fits failed."""
    summary: dict[str, float | None] = {}
    for variant in VARIANTS:
        chosen = [r for r in records if r["variant"] == variant and not math.isnan(r.get("band_delta_e", math.nan))]
        summary[f"recomposite_{variant}_delta_e"] = float(np.mean([r["band_delta_e"] for r in chosen])) \
            if chosen else None
        for name in ALTERATIONS:
            values = [r["band_delta_e"] for r in chosen if r["alteration"] == name]
            summary[f"recomposite_{variant}_{name}_delta_e"] = float(np.mean(values)) if values else None
    summary["recomposite_failures"] = sum("error" in r for r in records)
    return summary
