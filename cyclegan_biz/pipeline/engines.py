"""Inference engines: ``TorchEngine`` (``CycleBizGenerator``) and ``OnnxEngine`` (onnxruntime, no torch needed).

Both take and return NCHW float32 arrays in [-1, 1]: ``generate(image, attire_id)`` and ``classify(image)`` (attire
probabilities, or None without a classifier).

``TorchEngine`` loads its models on first use (thread-safe): the outfit path, the default, needs neither the
generator (only ``outfit="none"`` runs it) nor discriminator A (the attire fallback when the shipped attire
classifier is not installed), so a cold start skips diffusers and both weight files (``scripts/benchmark.py``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidOptionError, MissingWeightsError
from ..wardrobe.vocabulary import ATTIRES
from .hub import check_safetensors, load_classifier, load_errors, load_generator
from .onnx_export import onnx_files, onnx_session

# The generator's geometry when its config does not say (``CycleBizGenerator``'s defaults).
DEFAULT_RESOLUTION, DEFAULT_DOWNSAMPLES = 256, 2


def read_config(folder: Path) -> dict[str, Any]:
    """The generator's ``config.json``."""
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


class TorchEngine:
    name = "torch"

    def __init__(self, folder: Path, device: str | None = None) -> None:
        if device is not None and device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise InvalidOptionError("CUDA is not available here (no GPU, or a CPU-only torch); use device='cpu'.")
        self.folder = folder
        self._requested_device = device
        config = read_config(folder)
        self.resolution = int(config.get("resolution", DEFAULT_RESOLUTION))
        self.multiple = 2 ** int(config.get("num_downsamples", DEFAULT_DOWNSAMPLES))
        check_safetensors(folder)  # missing or unreadable weights fail now, not on first use
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}

    @cached_property
    def device(self) -> str:
        import torch

        return self._requested_device or ("cuda" if torch.cuda.is_available() else "cpu")

    def _model(self, name: str, load: Callable[[Path, str], Any]):
        """The model ``name``, loaded by ``load(folder, device)`` the first time any thread asks for it."""
        if name not in self._models:
            with self._lock:
                if name not in self._models:
                    with load_errors(self.folder):
                        self._models[name] = load(self.folder, self.device)
        return self._models[name]

    @property
    def generator(self):
        """The A2B generator (loaded now if it was not yet)."""
        return self._model("generator", load_generator)

    @property
    def classifier(self):
        """Discriminator A with its attire head, or None (loaded now if it was not yet)."""
        return self._model("classifier", load_classifier)

    def generate(self, image: np.ndarray, attire_id: int) -> np.ndarray:
        import torch

        generator = self.generator
        with torch.inference_mode():
            x = torch.from_numpy(image).to(self.device)
            attire = torch.tensor([attire_id], dtype=torch.long, device=self.device)
            return generator(x, attire).float().cpu().numpy()

    def classify(self, image: np.ndarray) -> np.ndarray | None:
        classifier = self.classifier
        if classifier is None:
            return None
        import torch

        with torch.inference_mode():
            logits = classifier(torch.from_numpy(image).to(self.device)).class_logits
            return torch.softmax(logits.float(), dim=1)[0].cpu().numpy()


class OnnxEngine:
    name = "onnx"

    def __init__(self, folder: Path, device: str | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise MissingWeightsError("The onnx engine needs onnxruntime: pip install 'cyclegan-biz[onnx]'.") from err
        files = onnx_files(folder)
        available = ort.get_available_providers()
        providers = ["CPUExecutionProvider"]
        if device != "cpu" and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        self.device = "cuda" if providers[0] == "CUDAExecutionProvider" else "cpu"
        self.session = onnx_session(files["generator"], providers)
        self.classifier = onnx_session(files["classifier"], providers) if "classifier" in files else None
        meta = self.session.get_modelmeta().custom_metadata_map
        config = read_config(folder)
        self.resolution = int(meta.get("resolution", config.get("resolution", DEFAULT_RESOLUTION)))
        self.multiple = 2 ** int(meta.get("num_downsamples", config.get("num_downsamples", DEFAULT_DOWNSAMPLES)))
        self.classes = int(self.session.get_inputs()[1].shape[1] or len(ATTIRES))
        self.generator = None

    def generate(self, image: np.ndarray, attire_id: int) -> np.ndarray:
        attire = np.zeros((1, self.classes), dtype=np.float32)
        attire[0, attire_id] = 1.0
        return self.session.run(None, {"image": image, "attire": attire})[0]

    def classify(self, image: np.ndarray) -> np.ndarray | None:
        if self.classifier is None:
            return None
        return self.classifier.run(None, {"image": image})[0][0]


def onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None
