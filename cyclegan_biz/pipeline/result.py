"""What the pipeline returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..vision.geometry import Framing


@dataclass
class HeadshotResult:
    """What the pipeline returns.

    ``attire``: "suit" or "blazer". ``attire_confidence``: the classifier's probability of that attire when
    ``attire="auto"`` chose it; ``None`` when the caller chose (the choice always wins) or when the model has no
    classifier (``attire="auto"`` then means ``FALLBACK_ATTIRE``). ``face_box``: (x0, y0, x1, y1) of the face
    landmarks in the input photo's pixels (upright, after EXIF rotation). ``timings``: seconds per stage.
    ``framing``: photo -> output transform (input photo pixels, as ``face_box``) so callers can map points.
    ``person_mask``: the output's soft person matte (float32 HxW, 0 = background colour). ``faces_found``: how many
    faces the photo has (the largest was used; callers should tell the user when there are several). ``outfit``: the
    outfit fitted (its id; "keep" or "none" for those paths; the id of a mirrored outfit is unchanged). ``warnings``:
    things the user should know about the photo (e.g. hair touching the top edge: the head is cut there).
    """

    image: Image.Image
    attire: str
    attire_confidence: float | None
    face_box: tuple[float, float, float, float]
    timings: dict[str, float]
    framing: Framing | None = field(default=None, repr=False)
    person_mask: np.ndarray | None = field(default=None, repr=False)
    attire_probabilities: dict[str, float] | None = None
    faces_found: int = 1
    outfit: str | None = None
    warnings: list[str] = field(default_factory=list)
