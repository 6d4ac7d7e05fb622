"""Geometry of the frames: the canonical head-and-shoulders alignment and ``Framing``, the one similarity transform
from a photo to a canvas (warp, scale, invert). Pixel-centre exact: pixel i covers [i - 0.5, i + 0.5], as in
``cv2.resize``; a square ``Framing`` is an ``Alignment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..constants import ASPECTS
from ..errors import InvalidOptionError

if TYPE_CHECKING:
    from .landmarks import Face

# --- The canonical frame -------------------------------------------------------------------------------------------
# Measured by ``scripts/measure_framing.py ../shared/datasets/business --limit 300`` (mediapipe landmarks, 346 faces,
# every 5th file; medians, IQR eye_y 0.27-0.34, face size 0.30-0.47). The square crop is the portrait's full width,
# placed so that the portrait's bottom edge is kept (shoulders matter more than head-room). Coordinates are
# fractions of the crop side.
# "face size" = max(2.0 * eye distance, 1.8 * eye-to-mouth distance), the scale measure of FFHQ's alignment,
# which stays stable when the head turns.
CANONICAL_EYE_CENTER = (0.5, 0.31)
CANONICAL_FACE_SIZE = 0.41

# 4:5 portraits: the square canonical frame grows by these fractions of its side above and below
# (a little head-room, more shoulders and attire); eyes then sit at about a third of the height.
PORTRAIT_EXTEND = (0.10, 0.15)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix.astype(np.float64))


def shrink_to(image: np.ndarray, max_side: float) -> tuple[np.ndarray, float]:
    """``(copy, scale)``: ``image`` area-averaged to at most ``max_side`` px on its long side (never enlarged)."""
    scale = min(1.0, max_side / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    return small, scale


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 matrix of ``outer(inner(p))``."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


# --- framing -------------------------------------------------------------------------------------------------------
@dataclass
class Framing:
    """A similarity transform from the photo to a ``width`` x ``height`` canvas, and back."""

    matrix: np.ndarray  # 2x3, photo pixels -> canvas pixels
    width: int
    height: int

    @classmethod
    def from_alignment(cls, alignment: Framing, aspect: str = "1:1", multiple: int = 1) -> Framing:
        """The canonical square of ``alignment``, or for "4:5" that square extended upward and downward.

        ``multiple``: the extended height is rounded to a multiple of it (the generator's stride).
        """
        size = alignment.size
        if aspect == "1:1":
            return cls(alignment.matrix.astype(np.float64).copy(), size, size)
        if aspect != "4:5":
            raise InvalidOptionError(f"Unknown aspect {aspect!r}; choose one of {', '.join(ASPECTS)}.")
        top, bottom = PORTRAIT_EXTEND
        height = int(round(size * (1 + top + bottom) / multiple)) * multiple
        offset = int(round(size * top))
        matrix = alignment.matrix.astype(np.float64).copy()
        matrix[1, 2] += offset
        return cls(matrix, size, height)

    @property
    def size(self) -> int:
        """The side of a square canvas (an ``Alignment``)."""
        if self.width != self.height:
            raise ValueError(f"A {self.width}x{self.height} framing is not square.")
        return self.width

    @property
    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @property
    def inverse(self) -> np.ndarray:
        return invert_affine(self.matrix)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def resized(self, width: int) -> Framing:
        """The same framing on a canvas ``width`` wide.

        Pixel-centre exact, like ``cv2.resize``: the canvas *area* scales by ``factor``, so pixel i of this canvas
        sits at ``factor * (i + 0.5) - 0.5`` on the new one.
        """
        factor = width / self.width
        matrix = self.matrix * factor
        matrix[:, 2] += (factor - 1) / 2
        return Framing(matrix, width, int(round(self.height * factor)))

    def shifted(self, x0: int, y0: int, width: int, height: int) -> Framing:
        """The sub-canvas ``[y0:y0+height, x0:x0+width]``."""
        matrix = self.matrix.copy()
        matrix[:, 2] -= (x0, y0)
        return Framing(matrix, width, height)

    def warp(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR, border_value=0) -> np.ndarray:
        """The canvas of ``image``; outside the photo is ``border_value``. Big reductions are antialiased, and only
        the part of the photo the canvas sees is touched (fast on 12-megapixel photos)."""
        matrix = self.matrix
        x0, y0, x1, y1 = self._source_box(image.shape)
        if x1 <= x0 or y1 <= y0:  # the canvas sees none of the photo
            channels = image.shape[2:] if image.ndim == 3 else ()
            out = np.empty((self.height, self.width, *channels), dtype=image.dtype)
            out[...] = border_value if image.ndim == 2 or np.ndim(border_value) == 0 else np.array(border_value)
            return out
        source = image[y0:y1, x0:x1]
        matrix = compose_affine(matrix, np.array([[1, 0, x0], [0, 1, y0]], dtype=np.float64))
        if self.scale < 0.5 and interpolation != cv2.INTER_NEAREST:
            factor = min(1.0, 2.0 * self.scale)
            source = cv2.resize(source, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            # cv2.resize maps pixel centres: small (i + 0.5) = factor * (big + 0.5)
            to_small = np.array([[factor, 0, 0.5 * factor - 0.5], [0, factor, 0.5 * factor - 0.5]])
            matrix = compose_affine(matrix, cv2.invertAffineTransform(to_small))
        return cv2.warpAffine(source, matrix, (self.width, self.height), flags=interpolation,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=border_value)

    def _source_box(self, shape: tuple[int, ...], margin: int = 3) -> tuple[int, int, int, int]:
        corners = np.array([[0, 0], [self.width, 0], [0, self.height], [self.width, self.height]], dtype=np.float64)
        inverse = self.inverse
        points = corners @ inverse[:, :2].T + inverse[:, 2]
        height, width = shape[:2]
        x0, y0 = np.floor(points.min(axis=0)).astype(int) - margin
        x1, y1 = np.ceil(points.max(axis=0)).astype(int) + margin
        return max(0, x0), max(0, y0), min(width, x1), min(height, y1)

    def valid_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """uint8 0/1 canvas mask: 1 where the pixel came from the photo, 0 where it is padding."""
        ones = np.ones(image_shape[:2], dtype=np.uint8)
        return cv2.warpAffine(ones, self.matrix, (self.width, self.height), flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def unwarp(self, canvas: np.ndarray, image_shape: tuple[int, ...], interpolation: int = cv2.INTER_LINEAR):
        """Map a canvas (or a canvas-sized mask) back onto the photo's frame; outside the canvas is 0."""
        height, width = image_shape[:2]
        return cv2.warpAffine(canvas, self.inverse, (width, height), flags=interpolation,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def to_canvas(self, points: np.ndarray) -> np.ndarray:
        return transform_points(points, self.matrix)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        return transform_points(points, self.inverse)

    def scaled_photo(self, factor: float) -> Framing:
        """The framing of the same photo decoded at ``factor`` times its size (photo' = factor x photo)."""
        matrix = self.matrix.copy()
        matrix[:, :2] /= factor
        return Framing(matrix, self.width, self.height)


# What ``align_face`` returns: a square ``Framing`` (``size`` = width = height).
Alignment = Framing


def align_face(face: Face, size: int = 256) -> Alignment:
    """The similarity transform that levels the eyes and puts the face at the canonical position and scale."""
    left, right = face.eye_centers()
    eye_mid = (left + right) / 2
    angle = face.roll()
    scale = CANONICAL_FACE_SIZE * size / face.size()
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    rotation = np.array([[cos, sin], [-sin, cos]], dtype=np.float64)
    target = np.array(CANONICAL_EYE_CENTER, dtype=np.float64) * size
    translation = target - rotation @ eye_mid.astype(np.float64)
    return Framing(np.hstack([rotation, translation[:, None]]), size, size)
