"""Inference engines: ``TorchEngine`` (``CycleBizGenerator``) and ``OnnxEngine`` (onnxruntime, no torch needed).

Both take and return NCHW float32 arrays in [-1, 1]: ``generate(image, attire_id)`` and ``classify(image)`` (attire
probabilities, or None without a classifier).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InvalidOptionError, MissingWeightsError
from ..wardrobe.vocabulary import ATTIRES
from .hub import load_torch_models
from .onnx_export import onnx_files

ENGINES = ("auto", "torch", "onnx")


class TorchEngine:
    name = "torch"

    def __init__(self, folder: Path, device: str | None = None) -> None:
        import torch

        self._torch = torch
        if device is not None and device.startswith("cuda") and not torch.cuda.is_available():
            raise InvalidOptionError("CUDA is not available here (no GPU, or a CPU-only torch); use device='cpu'.")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.generator, self.classifier = load_torch_models(folder, self.device)
        self.resolution = int(self.generator.config.resolution)
        self.multiple = 2 ** int(self.generator.config.num_downsamples)

    def generate(self, image: np.ndarray, attire_id: int) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(image).to(self.device)
            attire = torch.tensor([attire_id], dtype=torch.long, device=self.device)
            return self.generator(x, attire).float().cpu().numpy()

    def classify(self, image: np.ndarray) -> np.ndarray | None:
        if self.classifier is None:
            return None
        torch = self._torch
        with torch.inference_mode():
            logits = self.classifier(torch.from_numpy(image).to(self.device)).class_logits
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
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
        self.session = ort.InferenceSession(str(files["generator"]), options, providers=providers)
        self.classifier = None
        if "classifier" in files:
            self.classifier = ort.InferenceSession(str(files["classifier"]), options, providers=providers)
        meta = self.session.get_modelmeta().custom_metadata_map
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.resolution = int(meta.get("resolution", config.get("resolution", 256)))
        self.multiple = 2 ** int(meta.get("num_downsamples", config.get("num_downsamples", 2)))
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
