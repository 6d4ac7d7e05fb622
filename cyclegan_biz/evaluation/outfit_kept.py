"""Outfit kept (issue 12): is the requested outfit still the nearest wardrobe outfit to a finished output's clothes?

A finisher left free could pull every outfit toward the average navy suit. For each finished output, the same photo
is fitted with every wardrobe outfit of the same attire by the classical pipeline (the candidates); the output's
clothes box (``Portrait.clothes_region``: below the chin, level, background flattened) is compared with theirs by a
coarse Lab layout (cell means: colour and where the shirt, tie and lapels are). The outfit is *kept* when the
requested one is the nearest candidate. No learning, so it cannot be tuned to pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from ..wardrobe.appearance import to_lab
from .portrait import Portrait

GRID = (8, 4)  # cells across, down the clothes box


def clothes_layout(rgb: np.ndarray) -> np.ndarray:
    """The clothes box's Lab cell means (``GRID``), flattened: the outfit's colours and their layout."""
    region, _ = Portrait.from_rgb(rgb).clothes_region()
    return cv2.resize(to_lab(region), GRID, interpolation=cv2.INTER_AREA).reshape(-1)


def nearest(layout: np.ndarray, candidates: dict[str, np.ndarray]) -> str:
    return min(candidates, key=lambda name: float(np.linalg.norm(candidates[name] - layout)))


def outfit_kept(finished: np.ndarray, requested: str, layout: Callable[[str], np.ndarray],
                candidates: Sequence[str]) -> dict:
    """Whether ``requested`` is the nearest of ``candidates`` (outfit ids, ``requested`` among them) to the clothes
    of ``finished``; ``layout(outfit_id)``: the ``clothes_layout`` of the classical pipeline's output of the same
    photo with that outfit (a caller checking several finishers keeps them)."""
    layouts = {name: layout(name) for name in candidates}
    found = nearest(clothes_layout(finished), layouts)
    return {"requested": requested, "nearest": found, "kept": found == requested}


def kept_share(records: Sequence[dict]) -> float | None:
    return float(np.mean([r["kept"] for r in records])) if records else None
