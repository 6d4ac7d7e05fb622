"""Face-normalised views of a portrait that every outfit measurement shares.

All measurements look at the same places, defined from the face mesh in face-size units (``Face.size()``) so that
photos of any resolution, framing and head roll compare:

* the **canonical crop** (``align_face`` at ``CROP_SIZE`` px: eyes level, face size 0.41 of the side);
* the **chin-to-collar band**: from just below the chin (mesh point 152) down ``BAND_DEPTH`` face sizes, within
  ``BAND_HALF_WIDTH`` face sizes of the chin on each side, i.e. the neck, where a fitted outfit meets the head;
* the **clothes region**: a level box below the chin, ``CLOTHES_BOX`` face sizes, resampled to a fixed
  ``CLOTHES_PX_PER_FACE`` pixels per face size (so every photo shows the clothes at the same detail), with the
  background (person mask < 0.5) and whatever lies outside the photo flattened to one grey.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..vision.geometry import CANONICAL_FACE_SIZE, Alignment, align_face, shrink_to
from ..vision.landmarks import MESH_CHIN, Face, detect_face, face_mask
from ..vision.segmentation import person_mask

CROP_SIZE = 256
CHEEKS = (205, 425)  # mesh points in the middle of each cheek
BAND_TOP, BAND_DEPTH, BAND_HALF_WIDTH = 0.04, 0.45, 0.3  # face sizes below / beside the chin
CLOTHES_BOX = (2.2, 0.9)  # width, height in face sizes; the box starts CLOTHES_TOP below the chin
CLOTHES_TOP = 0.05
CLOTHES_PX_PER_FACE = 48
FLAT_GREY = 128
MAX_SIDE = 640  # everything runs on a copy at most this big (outputs of 1024 px keep a ~200 px face)


@dataclass
class Portrait:
    """One photo with its face, person mask and the canonical crop (all measurements start from here)."""

    rgb: np.ndarray  # HxWx3 uint8, at most MAX_SIDE px
    face: Face
    person: np.ndarray  # float32 HxW soft person mask of ``rgb``
    alignment: Alignment  # photo -> canonical crop

    @classmethod
    def from_rgb(cls, rgb: np.ndarray, face: Face | None = None) -> Portrait:
        """Detects the face (mediapipe mesh; raises ``NoFaceError``) unless ``face`` is given in ``rgb`` pixels."""
        small, scale = shrink_to(rgb, MAX_SIDE)
        if face is None:
            face = detect_face(small, min_face_size=0)
        elif scale < 1:
            face = face.scaled(small.shape[1] / rgb.shape[1])
        return cls(small, face, person_mask(small), align_face(face, CROP_SIZE))

    @property
    def face_px(self) -> float:
        """The face size in canonical-crop pixels."""
        return CANONICAL_FACE_SIZE * CROP_SIZE

    def crop(self) -> np.ndarray:
        return self.alignment.warp(self.rgb)

    def crop_person(self) -> np.ndarray:
        return self.alignment.warp(self.person)

    def crop_valid(self) -> np.ndarray:
        return self.alignment.valid_mask(self.rgb.shape).astype(bool)

    def crop_points(self) -> np.ndarray:
        return self.alignment.to_canvas(self.face.points)

    def crop_face_mask(self) -> np.ndarray:
        return face_mask((CROP_SIZE, CROP_SIZE), self.face.transformed(self.alignment.matrix)).astype(bool)

    def chin(self) -> np.ndarray:
        """(x, y) of the chin in the canonical crop."""
        return self.crop_points()[MESH_CHIN]

    def clothes_region(self) -> tuple[np.ndarray, float]:
        """(the level box below the chin, background and outside flattened to grey, uint8 HxWx3; the share of the
        box inside the photo)."""
        return clothes_region(self.rgb, self.person, self.alignment, self.chin())


def band_mask(chin: np.ndarray, face_px: float, shape: tuple[int, int] = (CROP_SIZE, CROP_SIZE),
              top: float = BAND_TOP, depth: float = BAND_DEPTH, half_width: float = BAND_HALF_WIDTH) -> np.ndarray:
    """Boolean mask of the chin-to-collar band in a level frame where the face is ``face_px`` pixels."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    return ((rows >= chin[1] + top * face_px) & (rows < chin[1] + (top + depth) * face_px)
            & (np.abs(cols - chin[0]) <= half_width * face_px))


def clothes_matrix(alignment: Alignment, chin: np.ndarray) -> np.ndarray:
    """2x3 photo -> clothes-box transform: level, ``CLOTHES_PX_PER_FACE`` px per face size, chin at top centre."""
    factor = CLOTHES_PX_PER_FACE / (CANONICAL_FACE_SIZE * alignment.size)
    width = CLOTHES_BOX[0] * CLOTHES_PX_PER_FACE
    shift = np.array([width / 2 - factor * chin[0], -factor * (chin[1] + CLOTHES_TOP * alignment.size
                                                              * CANONICAL_FACE_SIZE)])
    matrix = alignment.matrix.astype(np.float64) * factor
    matrix[:, 2] += shift
    return matrix


def clothes_region(rgb: np.ndarray, person: np.ndarray, alignment: Alignment,
                   chin: np.ndarray) -> tuple[np.ndarray, float]:
    """See ``Portrait.clothes_region``; ``chin`` in canonical-crop pixels of ``alignment``."""
    matrix = clothes_matrix(alignment, chin)
    size = (int(round(CLOTHES_BOX[0] * CLOTHES_PX_PER_FACE)), int(round(CLOTHES_BOX[1] * CLOTHES_PX_PER_FACE)))
    # INTER_AREA-like antialiasing: blur the photo in proportion to the reduction before the linear warp.
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    source = cv2.GaussianBlur(rgb, (0, 0), 0.5 / scale) if scale < 0.5 else rgb
    box = cv2.warpAffine(source, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=(FLAT_GREY,) * 3).astype(np.float32)
    mask = cv2.warpAffine(person, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    valid = cv2.warpAffine(np.ones(rgb.shape[:2], np.float32), matrix, size, flags=cv2.INTER_NEAREST,
                           borderValue=0.0)
    alpha = np.clip((mask - 0.3) / 0.4, 0.0, 1.0)[..., None] * valid[..., None]  # soft edge, no halo
    flat = alpha * box + (1.0 - alpha) * FLAT_GREY
    return np.clip(np.round(flat), 0, 255).astype(np.uint8), float(valid.mean())
