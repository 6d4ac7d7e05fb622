"""Face geometry: landmarks (two backends), face and person masks, and the canonical head-and-shoulders alignment.

Everything works on upright 8-bit RGB arrays (see ``imageio.load_rgb_array``) in pixel coordinates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import Protocol

import cv2
import numpy as np

from .errors import FaceTooSmallError, NoFaceError

# --- The canonical frame -------------------------------------------------------------------------------------------
# Measured by ``scripts/measure_framing.py ../shared/datasets/business --limit 300`` (mediapipe landmarks, 346 faces,
# every 5th file; medians, IQR eye_y 0.27-0.34, face size 0.30-0.47). The square crop is the portrait's full width,
# placed so that the portrait's bottom edge is kept (shoulders matter more than head-room). Coordinates are
# fractions of the crop side.
# "face size" = max(2.0 * eye distance, 1.8 * eye-to-mouth distance), the scale measure of FFHQ's alignment,
# which stays stable when the head turns.
CANONICAL_EYE_CENTER = (0.5, 0.31)
CANONICAL_FACE_SIZE = 0.41

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
        return Face(transform_points(self.points, matrix), self.groups, self.backend)


class LandmarkBackend(Protocol):
    name: str

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in an HxWx3 uint8 RGB image."""


# --- mediapipe backend ---------------------------------------------------------------------------------------------
def _indices(connections: frozenset[tuple[int, int]]) -> np.ndarray:
    return np.array(sorted({i for pair in connections for i in pair}), dtype=np.int64)


@lru_cache(maxsize=1)
def _mediapipe_groups() -> dict[str, np.ndarray]:
    from mediapipe.python.solutions import face_mesh_connections as fmc

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
        from mediapipe.python.solutions import face_mesh

        self._mesh = face_mesh.FaceMesh(
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
        scale = min(1.0, self.max_side / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        found = self._run(small)
        if not found:
            # Tight crops (face filling the frame) defeat the short-range detector: retry with a margin.
            pad = max(small.shape[:2]) // 3
            padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(127, 127, 127))
            found = [points - pad for points in self._run(padded)]
        groups = _mediapipe_groups()
        return [Face(points / scale, groups, self.name) for points in found]


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


class PersonSegmenter:
    """mediapipe selfie segmentation (bundled model): a soft person-versus-background mask."""

    def __init__(self) -> None:
        from mediapipe.python.solutions import selfie_segmentation

        self._model = selfie_segmentation.SelfieSegmentation(model_selection=0)
        self._lock = threading.Lock()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            mask = self._model.process(np.ascontiguousarray(image)).segmentation_mask
        return np.clip(mask, 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=1)
def _segmenter() -> PersonSegmenter:
    return PersonSegmenter()


def person_mask(image: np.ndarray) -> np.ndarray:
    """Soft person mask (float32 in [0, 1], HxW) of an RGB image."""
    return _segmenter()(image)


# --- canonical alignment -------------------------------------------------------------------------------------------
def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix.astype(np.float64))


@dataclass
class Alignment:
    """A similarity transform from the photo to a ``size`` x ``size`` canonical crop, and back."""

    matrix: np.ndarray  # 2x3, photo pixels -> crop pixels
    size: int

    @property
    def inverse(self) -> np.ndarray:
        return invert_affine(self.matrix)

    @property
    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def warp(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR, border_value: float = 0) -> np.ndarray:
        """The canonical crop of ``image`` (any dtype, 2-D or HxWxC); outside the photo is ``border_value``."""
        if self.scale < 0.5 and interpolation != cv2.INTER_NEAREST:
            return self._warp_downscaled(image, border_value)  # cv2 warps do not antialias
        return cv2.warpAffine(
            image, self.matrix, (self.size, self.size), flags=interpolation,
            borderMode=cv2.BORDER_CONSTANT, borderValue=border_value,
        )

    def _warp_downscaled(self, image: np.ndarray, border_value: float) -> np.ndarray:
        # Antialias big reductions: shrink to about twice the crop scale, then warp.
        factor = min(1.0, 2.0 * self.scale)
        small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        shrink = np.array([[1 / factor, 0, 0], [0, 1 / factor, 0]], dtype=np.float64)
        matrix = compose_affine(self.matrix, shrink)
        return cv2.warpAffine(
            small, matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT, borderValue=border_value,
        )

    def valid_mask(self, image_shape: tuple[int, ...]) -> np.ndarray:
        """uint8 0/1 crop mask: 1 where the pixel came from the photo, 0 where it is padding."""
        ones = np.ones(image_shape[:2], dtype=np.uint8)
        return cv2.warpAffine(ones, self.matrix, (self.size, self.size), flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def unwarp(self, crop: np.ndarray, image_shape: tuple[int, ...], interpolation: int = cv2.INTER_LINEAR):
        """Map a crop (or a crop-sized mask) back onto the photo's frame."""
        height, width = image_shape[:2]
        return cv2.warpAffine(crop, self.inverse, (width, height), flags=interpolation,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return transform_points(points, self.matrix)

    def to_photo(self, points: np.ndarray) -> np.ndarray:
        return transform_points(points, self.inverse)

    def resized(self, size: int) -> Alignment:
        """The same framing at another crop size."""
        factor = size / self.size
        return Alignment(self.matrix * factor, size)


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 matrix of ``outer(inner(p))``."""
    a = np.vstack([outer, [0, 0, 1]])
    b = np.vstack([inner, [0, 0, 1]])
    return (a @ b)[:2]


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
    return Alignment(np.hstack([rotation, translation[:, None]]), size)
