"""The headshot frame of the outfit path: the whole head with head-room above the hair, the shoulders reaching the
frame's edges, eyes level; 1:1 and 4:5.

Unlike the canonical frame (``face.CANONICAL_*``, derived from bottom-aligned squares of portraits whose top was
cut), the head-room here is measured from the top of the person mask (hair, buns, curls, hats), not from the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .constants import ASPECTS
from .errors import InvalidOptionError
from .vision.geometry import Framing
from .vision.landmarks import Face

# Measured by ``scripts/measure_headshot_frame.py`` (mediapipe landmarks and selfie segmentation) on full, uncropped
# business portraits: the person mask's top below the top edge (hair not cut), the mask touching both side edges in
# the bottom row (shoulders leaving the frame sideways) and the face inside. Medians (IQR):
# - 4:5: us-congress-wiki (480 x 600, exactly 4:5), all 214 files (--limit 300): 119 uncropped; head-room
#   0.080 (0.052-0.146) of the height, face size 0.339 (0.292-0.370) of the width, head centre x 0.505
#   (0.491-0.523), hair top to eye line 0.971 (0.900-1.036) face sizes.
# - 1:1: uk-parliament (260 x 260), every 2nd file (--limit 300): 93 of 318 uncropped (most crops touch the hair);
#   head-room 0.050 (0.038-0.069), face size 0.311 (0.292-0.349), head centre x 0.518 (0.506-0.529), hair top to
#   eye line 0.947 (0.898-1.010).
# (us-congress 225 x 275 crops cut most shoulders and were not used.) The head is centred (0.5): the UK set's
# slight offset to the right is a house style, not something a headshot needs.
# Per aspect: (head-room above the person mask / height, face size / width, head centre x / width).
FRAME_TARGETS = {
    "1:1": (0.050, 0.311, 0.5),
    "4:5": (0.080, 0.339, 0.5),
}
# The head above the eye line (hair included) in face sizes, median of both sets: used when the top of the head
# cannot be seen (hair touching the input's top edge) to know how much is missing.
TOP_TO_EYES = 0.96
# The eye line never sits lower than this fraction of the height (very tall hair or hats shrink the head instead).
MAX_EYE_Y = {"1:1": 0.50, "4:5": 0.45}
# The person-mask column band that counts as "the head", in face sizes either side of the face centre.
HEAD_BAND = 0.9
# The head reaching a side edge of the photo down to this far below the eyes (face sizes: between nose and mouth) is
# cut there; lower, it is the neck and shoulders of a head-and-shoulders crop (they meet the sides 0.68-1.16 below
# the eyes in the casual test photos).
SIDE_CUT_BELOW_EYES = 0.4
# ... and within this many face sizes of the face centre (hair reaches about 1.2, the 4:5 frame's sides are 1.47
# away; further is someone else whose mask the segmentation joined to this one's)
SIDE_CUT_REACH = 1.4


@dataclass
class HeadTop:
    """How far the head (hair, hats included) reaches above the eye line, along the face's up direction."""

    above_eyes: float  # pixels of the photo
    touches_top: bool  # the person mask reaches the photo's top edge above the face: the head is cut off there
    # the head (hair, face) reaches the photo's left or right edge above the mouth: the hair ends in a straight line
    touches_side: bool = False


def _face_axes(face: Face) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(eye midpoint, unit right, unit down) of the face, in photo pixels."""
    left, right = face.eye_centers()
    mid = (left + right) / 2
    angle = face.roll()
    axis_x = np.array([np.cos(angle), np.sin(angle)])
    axis_y = np.array([-np.sin(angle), np.cos(angle)])
    return mid.astype(np.float64), axis_x, axis_y


def head_top(person: np.ndarray, face: Face) -> HeadTop:
    """The top of the head from a person mask (bool or 0..1) and the face's landmarks, both in the same pixels.
    Only the mask's part connected to the face counts (a flag or a second person do not)."""
    mask = (person > 0.5).astype(np.uint8) if person.dtype != np.bool_ else person.astype(np.uint8)
    mid, axis_x, axis_y = _face_axes(face)
    size = face.size()
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    cx, cy = np.clip(np.round(mid).astype(int), 0, [mask.shape[1] - 1, mask.shape[0] - 1])
    label = labels[cy, cx]
    if label == 0:  # the eye midpoint fell outside the mask (thin mask): take the component nearest to it
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            return HeadTop(TOP_TO_EYES * size, False)
        nearest = np.argmin((xs - cx) ** 2 + (ys - cy) ** 2)
        label = labels[ys[nearest], xs[nearest]]
    ys, xs = np.nonzero(labels == label)
    offsets = np.stack([xs, ys], axis=1).astype(np.float64) - mid
    across = offsets @ axis_x
    up = -(offsets @ axis_y)
    band = np.abs(across) < HEAD_BAND * size
    if not band.any():
        return HeadTop(TOP_TO_EYES * size, False)
    above = float(up[band].max())
    touches = bool((ys[band] <= 0).any())
    head = (up > -SIDE_CUT_BELOW_EYES * size) & (np.abs(across) < SIDE_CUT_REACH * size)
    at_side = (xs <= 0) | (xs >= mask.shape[1] - 1)
    return HeadTop(max(above, 0.3 * size), touches, bool((head & at_side).any()))


def head_top_row(person: np.ndarray, face: Face) -> float:
    """Row of the top of the head in an upright photo (for measuring)."""
    mid, _, _ = _face_axes(face)
    return float(mid[1] - head_top(person, face).above_eyes)


def headshot_framing(face: Face, top: HeadTop, width: int, aspect: str = "1:1") -> Framing:
    """The photo -> canvas transform of the headshot frame: eyes level, face size and head-room from
    ``FRAME_TARGETS``, the head centred. When the head touches the photo's top edge, the canvas starts at that edge
    (no head-room is invented above a cut-off head)."""
    if aspect not in ASPECTS:
        raise InvalidOptionError(f"Unknown aspect {aspect!r}; choose one of {', '.join(ASPECTS)}.")
    height = width if aspect == "1:1" else int(round(width * 1.25))
    headroom, face_width, centre_x = FRAME_TARGETS[aspect]
    mid, axis_x, axis_y = _face_axes(face)
    size = face.size()
    scale = face_width * width / size
    above = top.above_eyes if not top.touches_top else max(top.above_eyes, TOP_TO_EYES * size)
    eye_y = headroom * height + above * scale
    limit = MAX_EYE_Y[aspect] * height
    if eye_y > limit:  # a tall hat or hair-do: shrink the head so it fits
        scale = (limit - headroom * height) / above
        eye_y = limit
    if top.touches_top:
        eye_y = top.above_eyes * scale  # the photo's top edge at the canvas's top edge
    outline = face.points[face.groups["outline"]].astype(np.float64)
    centre_offset = float(((outline - mid) @ axis_x).mean())  # the head's centre relative to the eyes, across
    rotation = np.stack([axis_x, axis_y]) * scale  # photo -> canvas: rows are the face's axes
    target = np.array([centre_x * width - centre_offset * scale, eye_y])
    translation = target - rotation @ mid
    return Framing(np.hstack([rotation, translation[:, None]]), width, height)
