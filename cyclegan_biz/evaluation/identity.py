"""Is the output still the same person? dlib's 128-D face embedding distance (same person below 0.6)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..imageio import ImageInput
from .appearance import rgb_array

SAME_PERSON_THRESHOLD = 0.6  # dlib's documented same-person distance


def _dlib_model_path(name: str) -> str:
    """A model file bundled by ``face-recognition-models``.

    Its accessors import ``pkg_resources``, which recent setuptools no longer ships: fall back to the package folder.
    """
    try:
        import face_recognition_models as models

        return {"pose": models.pose_predictor_model_location,
                "recognition": models.face_recognition_model_location}[name]()
    except ImportError:
        import importlib.util

        folder = Path(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0])
        files = {"pose": "shape_predictor_68_face_landmarks.dat",
                 "recognition": "dlib_face_recognition_resnet_model_v1.dat"}
        return str(folder / "models" / files[name])


class FaceEmbedder:
    """dlib's 128-D face embedding (HOG detector, 68-point landmarks, ResNet), models bundled offline."""

    # Everything runs on a copy of at most this many pixels on the long side (the ResNet sees a 150 px face chip).
    max_side = 640

    def __init__(self) -> None:
        import dlib

        self.detector = dlib.get_frontal_face_detector()
        self.shape_predictor = dlib.shape_predictor(_dlib_model_path("pose"))
        self.recognizer = dlib.face_recognition_model_v1(_dlib_model_path("recognition"))

    def __call__(self, image: ImageInput) -> np.ndarray | None:
        """The embedding of the largest face, or None when no face is found."""
        rgb = np.ascontiguousarray(rgb_array(image, self.max_side))
        boxes = self.detector(rgb, 0) or self.detector(rgb, 1)  # upsampled once only when needed (small faces)
        if not boxes:
            return None
        shape = self.shape_predictor(rgb, max(boxes, key=lambda r: r.area()))
        return np.array(self.recognizer.compute_face_descriptor(rgb, shape), dtype=np.float64)


@lru_cache(maxsize=1)
def face_embedder() -> FaceEmbedder:
    return FaceEmbedder()


def identity(source: ImageInput, output: ImageInput,
             embedder: Callable | None = None) -> dict[str, Any]:
    """dlib embedding distance of two photos (NaN unless both have a detectable face), and which had one."""
    embedder = embedder or face_embedder()
    ea, eb = embedder(source), embedder(output)
    distance = math.nan if ea is None or eb is None else float(np.linalg.norm(ea - eb))
    return {"identity_distance": distance, "input_face_found": ea is not None, "output_face_found": eb is not None}


def identity_distance(a: ImageInput, b: ImageInput, embedder: Callable | None = None) -> float:
    """Euclidean distance of the dlib embeddings of two photos; NaN when either has no detectable face."""
    return identity(a, b, embedder)["identity_distance"]


def nanmean(values) -> float | None:
    """Mean of the finite values (None entries skipped); None when there is none."""
    array = np.array([v for v in values if v is not None], dtype=np.float64)
    return float(np.nanmean(array)) if np.isfinite(array).any() else None


def identity_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean distance over pairs with both faces; share under 0.6 among pairs whose input face was found (an
    output without a face counts as not the same person)."""
    judged = [r for r in records if r.get("input_face_found")]
    distances = [r["identity_distance"] for r in judged]
    same = [d < SAME_PERSON_THRESHOLD for d in distances if not math.isnan(d)]
    return {
        "identity_distance_mean": nanmean(distances),
        "identity_same_person_share": float(sum(same) / len(judged)) if judged else None,
        "identity_pairs": len(judged),
        "identity_no_face_output": sum(not r["output_face_found"] for r in judged),
        "identity_no_face_input": sum(r.get("input_face_found") is False for r in records),
    }
