"""Second landmark backend: face-alignment's FAN network (68-point iBUG landmarks), behind ``landmarks.get_backend``.

    landmarks.get_backend("face-alignment").detect(image)  # -> list[Face], 68 points each

Faces are found by mediapipe's bundled BlazeFace detector (no download; ``detector="dlib"`` uses dlib's HOG detector,
also download-free, and any detector name of face-alignment itself, e.g. ``"sfd"``, works too but downloads its
weights). The FAN weights (about 95 MB) are looked up in ``torch.hub.get_dir()/checkpoints/`` (move it with
``TORCH_HOME``) and downloaded there on first use; without internet, ``MissingWeightsError`` says which file to put
where.
"""

from __future__ import annotations

import inspect
import pickle
import threading
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlparse

import cv2
import numpy as np

from ..errors import MissingWeightsError
from . import landmarks as _landmarks

# 68-point iBUG scheme (the index sets ``Face.groups`` shares with the mediapipe backend).
GROUPS_68: dict[str, np.ndarray] = {
    "eye_a": np.arange(36, 42),
    "eye_b": np.arange(42, 48),
    "mouth": np.arange(48, 68),
    "brows": np.arange(17, 27),
    "outline": np.arange(0, 17),
}

# Where face-alignment 1.5 downloads 2DFAN-4 from (read from the installed package when possible).
FAN_URL = "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar"

# Detector boxes -> the box FAN was trained on (the bounding box of the 68 landmarks, brows to chin): the box is
# scaled by ``scale`` about its centre, which moves down by ``shift`` x its height. Medians measured against
# mediapipe's face mesh on 70 portraits of ../shared/datasets (web-portraits, us-congress-wiki, canada).
BOX_CALIBRATION = {
    "mediapipe-short": (0.90, 0.04),
    "mediapipe-full": (0.84, 0.09),
    "dlib": (0.91, 0.09),
}


def checkpoint_dir() -> Path:
    """The folder face-alignment reads its weights from: ``torch.hub.get_dir()/checkpoints``."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def _file_name(url: str) -> str:
    return Path(urlparse(url).path).name


def fan_url() -> str:
    """URL of the 2-D FAN-4 weights for the installed face-alignment (1.5: a state dict; 1.4: a TorchScript zip)."""
    try:
        from face_alignment import api
    except ImportError:
        return FAN_URL
    urls = getattr(api, "models_urls", {})
    if "2DFAN-4" in urls:  # face-alignment >= 1.5
        return urls["2DFAN-4"]
    import torch  # face-alignment 1.4: one table per torch version

    version = torch.__version__.split("+")[0]
    version = version.rsplit(".", 2)[0] if "dev" in version else version.rsplit(".", 1)[0]
    try:
        return urls.get(version, api.default_model_urls)["2DFAN-4"]
    except (AttributeError, KeyError, TypeError):
        return FAN_URL


def detector_urls(detector: str) -> list[str]:
    """Weight files face-alignment's own face detector ``detector`` downloads (none for ours or dlib on CPU)."""
    if detector in ("mediapipe", "dlib"):
        return []
    import importlib

    try:
        module = importlib.import_module(f"face_alignment.detection.{detector}.{detector}_detector")
    except ImportError as err:
        raise ValueError(
            f"Unknown face detector {detector!r}: use 'mediapipe' (default, no download), 'dlib', or one of "
            "face-alignment's detectors ('sfd', 'blazeface', 'retinaface', 'yunet', 'scrfd')."
        ) from err
    urls = getattr(module, "models_urls", None) or {"model": getattr(module, "model_url", None)}
    return [url for key, url in urls.items() if url and "back" not in key]


def required_files(detector: str = "mediapipe") -> list[tuple[str, Path]]:
    """(url, local path) of every weight file the backend needs."""
    folder = checkpoint_dir()
    return [(url, folder / _file_name(url)) for url in [fan_url(), *detector_urls(detector)]]


def _download(url: str, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(path), progress=True)  # writes a temp file, then renames


def ensure_weights(detector: str = "mediapipe", download: bool = True) -> list[Path]:
    """Make sure every weight file is on disk (downloading what is missing); raises ``MissingWeightsError``."""
    missing: list[tuple[str, Path]] = []
    error: Exception | None = None
    for url, path in required_files(detector):
        if path.is_file():
            continue
        if download:
            try:
                _download(url, path)
                continue
            except Exception as err:  # noqa: BLE001 - no network, proxy, HTTP error, disk full: all mean "missing"
                error = err
        missing.append((url, path))
    if missing:
        folder = missing[0][1].parent
        lines = "\n".join(f"  {path.name}  <-  {url}" for url, path in missing)
        reason = f" (download failed: {type(error).__name__}: {error})" if error else ""
        raise MissingWeightsError(
            f"The face-alignment landmark backend needs weight files that are not on disk{reason}. "
            f"On a machine with internet, download:\n{lines}\n"
            f"and put them into the folder {folder}/ (torch.hub.get_dir()/checkpoints; set TORCH_HOME to use "
            "another place). Or use the default landmark backend, backend='mediapipe', which needs no download."
        )
    return [path for _, path in required_files(detector)]


def _calibrated(box: np.ndarray, kind: str) -> np.ndarray:
    scale, shift = BOX_CALIBRATION[kind]
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + shift * (y1 - y0)
    half_w, half_h = scale * (x1 - x0) / 2, scale * (y1 - y0) / 2
    return np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dtype=np.float64)


class FaceBoxes:
    """Download-free face detection with boxes in FAN's convention (x0, y0, x1, y1 of the 68 landmarks).

    ``detector``: "mediapipe" (BlazeFace, bundled with mediapipe: short range, then full range for small faces) or
    "dlib" (dlib's HOG frontal-face detector, part of dlib).
    """

    max_side = 1024  # detection runs on at most this many pixels on the long side

    def __init__(self, detector: str = "mediapipe", min_confidence: float = 0.5) -> None:
        self.detector = detector
        self._lock = threading.Lock()
        if detector == "mediapipe":
            from .mediapipe_solutions import solutions

            face_detection = solutions().face_detection

            self._models = {
                "mediapipe-short": face_detection.FaceDetection(min_confidence, model_selection=0),
                "mediapipe-full": face_detection.FaceDetection(min_confidence, model_selection=1),
            }
        elif detector == "dlib":
            import dlib

            self._hog = dlib.get_frontal_face_detector()
        else:
            raise ValueError(f"FaceBoxes detects with 'mediapipe' or 'dlib', not {detector!r}.")

    def _mediapipe(self, image: np.ndarray) -> list[np.ndarray]:
        height, width = image.shape[:2]
        for kind, model in self._models.items():
            with self._lock:
                result = model.process(image)
            if result.detections:
                boxes = []
                for detection in result.detections:
                    b = detection.location_data.relative_bounding_box
                    box = np.array([b.xmin * width, b.ymin * height, (b.xmin + b.width) * width,
                                    (b.ymin + b.height) * height])
                    boxes.append(_calibrated(box, kind))
                return boxes
        return []

    def _dlib(self, image: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            found = self._hog(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), 1)
        return [_calibrated(np.array([d.left(), d.top(), d.right(), d.bottom()], float), "dlib") for d in found]

    def __call__(self, image: np.ndarray) -> list[np.ndarray]:
        """Boxes of all faces in an HxWx3 uint8 RGB image, in its pixels."""
        find = self._mediapipe if self.detector == "mediapipe" else self._dlib
        return _landmarks.detect_scaled(image, find, self.max_side)


class FaceAlignmentBackend:
    """face-alignment's 2-D FAN (68 iBUG points), on boxes from a download-free face detector by default."""

    name = "face-alignment"
    # face-alignment's test-time augmentation: FAN also runs on the mirrored crop (twice the time, a bit steadier).
    flip_input = True

    def __init__(
        self,
        device: str = "cpu",
        detector: str = "mediapipe",
        flip_input: bool | None = None,
        download: bool = True,
        min_confidence: float = 0.5,
    ) -> None:
        try:
            import face_alignment
        except ImportError as err:
            raise ImportError(
                "The face-alignment landmark backend needs the face-alignment package: "
                "pip install 'cyclegan-biz[face-alignment]'."
            ) from err
        ensure_weights(detector, download)
        self.detector = detector
        self._lock = threading.Lock()
        own = detector in ("mediapipe", "dlib")
        self._boxes = FaceBoxes(detector, min_confidence) if own else None
        flip = self.flip_input if flip_input is None else flip_input
        # With our own boxes, face-alignment gets its no-op "folder" detector (reference scale 195, FAN's own).
        kwargs = {"device": device, "flip_input": flip, "face_detector": "folder" if own else detector}
        if "compile" in inspect.signature(face_alignment.FaceAlignment).parameters:
            kwargs["compile"] = False  # torch.compile costs minutes on CPU for a few photos
        try:
            self._fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, **kwargs)
        except URLError as err:  # a detector of face-alignment's that fetches more than ``detector_urls`` knows
            raise MissingWeightsError(
                f"face-alignment's {detector!r} face detector could not download its weights into "
                f"{checkpoint_dir()}/ ({err}). Run it once on a machine with internet and copy that folder, "
                "or use detector='mediapipe' (no download)."
            ) from err
        except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
            files = ", ".join(str(path) for _, path in required_files(detector))
            raise MissingWeightsError(
                f"face-alignment could not load its weights ({type(err).__name__}: {err}). "
                f"The files may be truncated or corrupt: delete them ({files}) so they are downloaded again."
            ) from err

    def _package_boxes(self, image: np.ndarray) -> list[np.ndarray]:
        # face-alignment's own detectors take RGB and return boxes in FAN's convention already.
        with self._lock:
            found = self._fa.face_detector.detect_from_image(image.copy())
        return [np.asarray(box[:4], dtype=np.float64) for box in found]

    def boxes(self, image: np.ndarray) -> list[np.ndarray]:
        """Face boxes in FAN's convention (x0, y0, x1, y1 of the 68 landmarks), in ``image`` pixels."""
        if self._boxes is not None:
            return self._boxes(image)
        return _landmarks.detect_scaled(image, self._package_boxes, FaceBoxes.max_side)

    def detect(self, image: np.ndarray) -> list[_landmarks.Face]:
        """All faces in an HxWx3 uint8 RGB image, 68 landmarks each."""
        image = np.ascontiguousarray(image)
        boxes = [box.tolist() for box in self.boxes(image)]
        if not boxes:
            return []
        with self._lock:
            landmarks = self._fa.get_landmarks_from_image(image, detected_faces=boxes)
        return [
            _landmarks.Face(np.asarray(points, dtype=np.float32)[:, :2].copy(), GROUPS_68, self.name)
            for points in landmarks or []
        ]


_landmarks.register_backend("face-alignment", FaceAlignmentBackend)
