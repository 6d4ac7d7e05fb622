"""Selfie in, business headshot out: ``SelfieToBusinessPipeline`` (``selfie_to_business``) and its parts.

``hub`` (model folder, Hub id, loading), ``engines`` (torch, onnx), ``onnx_export``, ``decoding``, ``stages`` (pieces
shared by both paths), ``generator_path`` (``outfit="none"``), ``outfit_path`` (every other outfit), ``result``.
"""

from ..constants import ENGINES, MAX_SIZE, MIN_SIZE
from .decoding import decode
from .engines import OnnxEngine, TorchEngine
from .generator_path import STAGES
from .hub import DEFAULT_MODEL_DIR, HUB_PATTERNS, ONNX_CLASSIFIER, ONNX_GENERATOR, load_torch_models, resolve_model_dir
from .onnx_export import export_onnx, onnx_cache_dir, onnx_files
from .outfit_path import OUTFIT_STAGES
from .result import HeadshotResult
from .selfie_to_business import FALLBACK_ATTIRE, SelfieToBusinessPipeline

__all__ = [
    "DEFAULT_MODEL_DIR", "ENGINES", "FALLBACK_ATTIRE", "HUB_PATTERNS", "MAX_SIZE", "MIN_SIZE", "ONNX_CLASSIFIER",
    "ONNX_GENERATOR", "OUTFIT_STAGES", "STAGES", "HeadshotResult", "OnnxEngine", "SelfieToBusinessPipeline",
    "TorchEngine", "decode", "export_onnx", "load_torch_models", "onnx_cache_dir", "onnx_files", "resolve_model_dir",
]
