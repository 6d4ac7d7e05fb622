"""Face landmarks: ``Face``, the backends (mediapipe here, face-alignment in ``face_alignment_backend``) chosen by
name, ``detect_face`` and the inner-face mask. The canonical alignment is in ``geometry``.

Everything works on upright 8-bit RGB arrays (see ``imageio.load_rgb_array``) in pixel coordinates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import Protocol

import cv2
import numpy as np

from ..errors import FaceTooSmallError, NoFaceError
from .geometry import shrink_to, transform_points

# Below this face size (pixels in the photo) a headshot would be a blurry upscale.
MIN_FACE_SIZE = 48


@dataclass
class Face:
    """Landmarks of one face. ``groups`` names index sets shared by every backend."""

    points: np.ndarray  # (N, 2) float32, x/y in pixels
    groups: dict[str, np.ndarray] = field(repr=False)  # eye_a, eye_b, mouth, brows, outline
    backend: str = "mediapipe"
    # How many faces the detector found in the image this one came from (detect_face returns the largest).
    faces_found: int = field(default=1, compare=False)

    @property
    def box(self) -> tuple[float, float, float, float]:
        x0, y0 = self.points.min(axis=0)
        x1, y1 = self.points.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)

    def eye_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """(left, right) eye centres as seen in the image."""
        a = self.points[self.groups["eye_a"]].mean(axis=0)
        b = self.points[self.groups["eye_b"]].mean(axis=0)
        return (a, b) if a[0] <= b[0] else (b, a)

    def mouth_center(self) -> np.ndarray:
        return self.points[self.groups["mouth"]].mean(axis=0)

    def size(self) -> float:
        """Scale measure in pixels: max(2 x eye distance, 1.8 x eye-to-mouth distance)."""
        left, right = self.eye_centers()
        eye_mid = (left + right) / 2
        return float(max(2.0 * np.linalg.norm(right - left), 1.8 * np.linalg.norm(self.mouth_center() - eye_mid)))

    def roll(self) -> float:
        """Angle of the eye line in radians (0 = level)."""
        left, right = self.eye_centers()
        return float(np.arctan2(right[1] - left[1], right[0] - left[0]))

    def transformed(self, matrix: np.ndarray) -> Face:
        return replace(self, points=transform_points(self.points, matrix))

    def scaled(self, factor: float) -> Face:
        """The same landmarks in a copy of the image ``factor`` times as large."""
        return replace(self, points=(self.points * factor).astype(np.float32))


class LandmarkBackend(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in an HxWx3 uint8 RGB image."""


def detect_scaled(image: np.ndarray, find: Callable[[np.ndarray], list[np.ndarray]], max_side: int):
    """Run a finder of boxes or landmarks (arrays of x, y) on a copy of at most ``max_side`` pixels, retrying with a
    margin; the arrays in image pixels."""
    small, scale = shrink_to(image, max_side)
    small = np.ascontiguousarray(small)
    found = find(small)
    if not found:
        # Tight crops (face filling the frame) defeat the detectors (mediapipe's short-range one too): add a margin.
        pad = max(small.shape[:2]) // 3
        padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        found = [box - pad for box in find(padded)]
    return [box / scale for box in found]


# --- mediapipe backend ---------------------------------------------------------------------------------------------
def _indices(connections: frozenset[tuple[int, int]]) -> np.ndarray:
    return np.array(sorted({i for pair in connections for i in pair}), dtype=np.int64)


# The mediapipe face mesh's point at the bottom of the chin (478-point topology): the wardrobe, the finisher and the
# outfit measurements place collars, seams and bands from it.
MESH_CHIN = 152


@lru_cache(maxsize=1)
def _mediapipe_groups() -> dict[str, np.ndarray]:
    from .mediapipe_solutions import solutions

    fmc = solutions().face_mesh_connections

    return {
        "eye_a": _indices(fmc.FACEMESH_LEFT_EYE),
        "eye_b": _indices(fmc.FACEMESH_RIGHT_EYE),
        "mouth": _indices(fmc.FACEMESH_LIPS),
        "brows": np.concatenate([_indices(fmc.FACEMESH_LEFT_EYEBROW), _indices(fmc.FACEMESH_RIGHT_EYEBROW)]),
        "outline": _indices(fmc.FACEMESH_FACE_OVAL),
    }


class MediaPipeBackend:
    """mediapipe 0.10.21's 478-point face mesh; its models ship inside the wheel, so it works offline."""

    name = "mediapipe"
    # The mesh runs on at most this many pixels on the long side; landmarks are scaled back.
    max_side = 1024

    def __init__(self, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        from .mediapipe_solutions import solutions

        self._mesh = solutions().face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
        )
        self._lock = threading.Lock()  # a mediapipe graph is not re-entrant

    def _run(self, image: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            result = self._mesh.process(np.ascontiguousarray(image))
        if not result.multi_face_landmarks:
            return []
        height, width = image.shape[:2]
        return [
            np.array([(p.x * width, p.y * height) for p in face.landmark], dtype=np.float32)
            for face in result.multi_face_landmarks
        ]

    def detect(self, image: np.ndarray) -> list[Face]:
        groups = _mediapipe_groups()
        return [Face(points, groups, self.name) for points in detect_scaled(image, self._run, self.max_side)]


_BACKENDS: dict[str, type] = {"mediapipe": MediaPipeBackend}


def register_backend(name: str, factory: type) -> None:
    _BACKENDS[name] = factory


def get_backend(name: str = "mediapipe") -> LandmarkBackend:
    """The landmark backend ``name`` ("mediapipe" or "face-alignment"), created once per process."""
    return _backend(name)


def reset_backends() -> None:
    """Forget the created backends (tests swap weights or registrations)."""
    _backend.cache_clear()


@cache
def _backend(name: str) -> LandmarkBackend:
    if name == "face-alignment" and name not in _BACKENDS:
        from . import face_alignment_backend  # noqa: F401 - registers itself
    if name not in _BACKENDS:
        raise ValueError(f"Unknown landmark backend {name!r}; choose one of {sorted(_BACKENDS)}.")
    return _BACKENDS[name]()


def detect_face(image: np.ndarray, backend: str = "mediapipe", min_face_size: float = MIN_FACE_SIZE) -> Face:
    """The largest face in ``image`` (its ``faces_found`` says how many there were); raises ``NoFaceError`` or
    ``FaceTooSmallError`` with advice."""
    faces = get_backend(backend).detect(image)
    if not faces:
        raise NoFaceError(
            "No face found in the photo. Use a photo where one face looks at the camera, well lit and not covered."
        )
    face = max(faces, key=lambda f: f.area)
    if face.size() < min_face_size:
        raise FaceTooSmallError(
            f"The face is only about {face.size():.0f} px across; at least {min_face_size:.0f} px is needed. "
            "Use a closer or higher-resolution photo."
        )
    return replace(face, faces_found=len(faces))


# --- masks ---------------------------------------------------------------------------------------------------------
def face_mask(shape: tuple[int, ...], face: Face) -> np.ndarray:
    """Binary (uint8 0/1) mask of the inner face, from the brows to the chin: no hair, no background.

    The convex hull of the brows and of the face outline below the brows (measured in the face's own upright
    frame, so a tilted head works too).
    """
    angle = face.roll()
    cos, sin = np.cos(-angle), np.sin(-angle)
    upright = face.points @ np.array([[cos, sin], [-sin, cos]], dtype=np.float32)
    brows = face.groups["brows"]
    brow_top = upright[brows, 1].min()
    outline = face.groups["outline"]
    below = outline[upright[outline, 1] >= brow_top]
    hull = cv2.convexHull(face.points[np.concatenate([brows, below])].astype(np.float32))
    mask = np.zeros(shape[:2], dtype=np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1, lineType=cv2.LINE_8)
    return mask
