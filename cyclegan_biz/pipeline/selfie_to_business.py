"""Selfie in, business headshot out: ``SelfieToBusinessPipeline``.

    from cyclegan_biz import SelfieToBusinessPipeline

    pipe = SelfieToBusinessPipeline.from_pretrained()          # the bundled model; or a folder / Hub id
    result = pipe("selfie.jpg", attire="auto", background="studio-grey", size=1024, aspect="1:1")
    result.image.save("headshot.jpg", quality=95)

Two paths, chosen by ``outfit=``. The default, every ``outfit`` but "none" (``outfit_path``): the whole head is framed
(``headshot_frame``) and a real outfit of the wardrobe, of another photo, or the user's own clothes ("keep") is
fitted under it (``wardrobe.fitting``); stages ``outfit_path.OUTFIT_STAGES``. ``outfit="none"`` (``generator_path``)
runs the CycleGAN generator instead, in these steps (``result.timings`` has one entry per stage):

- decode: EXIF rotation, any colour mode, HEIC, decompression-bomb guard (``imageio``); JPEGs much bigger than the
  output needs are decoded at 1/2, 1/4 or 1/8 scale (decoded again finer if the face turns out too small for it);
- face: landmarks (on a copy of at most 1024 px) and the canonical alignment at the generator's resolution, padding
  filled with ``constants.PAD_VALUE`` as in training;
- generator: the attire (``"auto"``: see below) and the A2B generator;
- compose: colours around the face matched to the photo (at model resolution), the result upsampled to the output
  size, and the ORIGINAL face pasted back at full resolution: exact in the face core, feathered at its rim. The output
  framing is the canonical one at output size (for 4:5, extended 10 % up and 15 % down: head-room and shoulders);
- background: the person segmented on the result, everything else (padding included) the chosen flat colour.

Attire: the caller's choice always wins (``attire_confidence`` None). ``"auto"`` uses the attire classifier shipped
in the package (``wardrobe.attire_classifier``, its probability as confidence); without it, the model's
``discriminator_a`` class head (softmax probability; near chance on real photos); a model without one gives
``FALLBACK_ATTIRE`` ("suit") with confidence None.

Engines: "torch" (``CycleBizGenerator``), "onnx" (onnxruntime; uses ``model.onnx`` in the model folder, or exports one
into a cache folder on first use) and "auto" (onnx when onnxruntime is installed and the folder ships ``model.onnx`` or
it was exported into the cache before, else torch). The onnx engine with a shipped (or cached) ``model.onnx`` never
imports torch, which keeps cold starts short.

Modules: ``hub`` (model folder / Hub id, loading), ``engines`` (torch, onnx), ``onnx_export``, ``decoding`` (JPEG
draft decoding, the analysis copy, the face), ``stages`` (shared pieces), ``result`` (``HeadshotResult``).

A loaded pipeline is reusable and may be called from several threads (the landmark and segmentation models are locked;
torch and onnxruntime inference are thread-safe). The torch engine loads the generator and discriminator A on first
use (under a lock): the outfit path, the default, needs neither.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..compose import DEFAULT_BACKGROUND, parse_color
from ..constants import ASPECTS, ENGINES, MAX_SIZE, MIN_SIZE
from ..errors import InvalidOptionError
from ..imageio import ImageInput
from ..vision.landmarks import Face
from ..wardrobe.vocabulary import (
    ATTIRE_AUTO,
    ATTIRE_CHOICES,
    ATTIRES,
    FALLBACK_ATTIRE,
    OUTFIT_AUTO,
    OUTFIT_NONE,
    OUTFIT_SPECIAL,
)
from .engines import OnnxEngine, TorchEngine, onnxruntime_available
from .generator_path import generator_headshot
from .hub import (
    HUB_PATTERNS,
    ONNX_CLASSIFIER,
    ONNX_GENERATOR,
    finisher_folder,
    load_errors,
    load_finisher,
    resolve_model_dir,
)
from .onnx_export import finisher_onnx_file, has_onnx, onnx_files
from .outfit_path import outfit_headshot
from .result import HeadshotResult
from .stages import Stopwatch


class SelfieToBusinessPipeline:
    """Load once with ``from_pretrained``, then call with photos. See the module docstring."""

    def __init__(self, engine: TorchEngine | OnnxEngine, model_dir: Path | None = None,
                 finisher_dir: Path | None = None) -> None:
        self.engine = engine
        self.model_dir = model_dir
        self.load_seconds: float | None = None
        self.finisher_dir = finisher_dir
        self._finisher = None
        self._finisher_lock = threading.Lock()

    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | os.PathLike | None = None, engine: str = "auto",
                        device: str | None = None, revision: str | None = None,
                        finisher: bool | str | os.PathLike = True) -> SelfieToBusinessPipeline:
        """``path_or_hub_id``: None (the bundled model in ``cyclegan_biz/pretrained/selfie2biz``), a model folder
        (generator at the root, optional ``discriminator_a/`` and ``finisher/``) or a Hugging Face Hub id.
        ``engine``: "torch", "onnx" or "auto" (onnx when onnxruntime is installed and ``model.onnx`` is shipped or
        cached, else torch). ``device``: "cpu", "cuda" or None (cuda when available). ``finisher``: True (the
        model's ``finisher/`` when it has one: the trained seam correction of the outfit path), False (the
        classical blend alone) or the folder of another finisher; it is loaded on first use."""
        if engine not in ENGINES:
            raise InvalidOptionError(f"Unknown engine {engine!r}; choose one of {', '.join(ENGINES)}.")
        start = time.perf_counter()
        folder = resolve_model_dir(path_or_hub_id, revision)
        if engine == "auto":
            engine = "onnx" if onnxruntime_available() and has_onnx(folder) else "torch"
        with load_errors(folder):  # corrupt or incompatible files: one clear message
            runner = OnnxEngine(folder, device) if engine == "onnx" else TorchEngine(folder, device)
        # the finisher loads on first use, in the calling thread (``hub`` loads one model at a time); with torch,
        # its modules (diffusers: ~1.6 s) are imported now in the background, overlapping the first photo's
        # decoding, segmentation and pose, which run in native code. Importing constructs no model: safe.
        pipe = cls(runner, folder, finisher_folder(folder, finisher))
        if pipe.finisher_dir is not None and pipe.engine.name == "torch":
            threading.Thread(target=importlib.import_module, args=("cyclegan_biz.models.finisher",), daemon=True,
                             name="import-finisher").start()
        pipe.load_seconds = time.perf_counter() - start
        return pipe

    @property
    def finisher(self):
        """The ``CycleBizFinisher`` of the outfit path (loaded on first use), or None: the classical blend alone."""
        if self._finisher is None and self.finisher_dir is not None:
            with self._finisher_lock:
                if self._finisher is None:
                    self._finisher = self._load_finisher()
        return self._finisher

    def _load_finisher(self):
        """With the onnx engine, the finisher's ONNX file (shipped or cached; no torch at run time), else torch."""
        if self.engine.name == "onnx":
            from ..wardrobe.finishing import OnnxFinisher

            path = finisher_onnx_file(self.finisher_dir)
            if path is not None:
                return OnnxFinisher(path, self.engine.session.get_providers())
        return load_finisher(self.finisher_dir).to(self.engine.device)

    def save_pretrained(self, save_directory: str | os.PathLike, onnx: bool | None = None) -> Path:
        """Write the model folder this pipeline runs, so that ``from_pretrained(save_directory)`` loads the same
        pipeline: the generator (``config.json`` + safetensors at the root), ``discriminator_a/`` (the attire
        classifier) and the model card (``README.md``) when there is one, i.e. the files a Hub download fetches
        (``HUB_PATTERNS``). ONNX files: ``onnx=None`` copies those that exist (shipped, or exported into the cache
        before); ``True`` also exports missing ones now (needs torch and onnx); ``False`` leaves them out."""
        import shutil

        from huggingface_hub.utils import filter_repo_objects

        if self.model_dir is None:
            raise ValueError("This pipeline was not loaded from a model folder: there is nothing to save.")
        source_dir, target = Path(self.model_dir), Path(save_directory)
        names = [p.relative_to(source_dir).as_posix() for p in sorted(source_dir.rglob("*")) if p.is_file()]
        files = {name: source_dir / name for name in filter_repo_objects(names, allow_patterns=HUB_PATTERNS)
                 if not name.endswith(".onnx")}
        if onnx is not False:
            exported = onnx_files(source_dir, export=bool(onnx))
            files.update({ONNX_GENERATOR if kind == "generator" else ONNX_CLASSIFIER: path
                          for kind, path in exported.items()})
        for name, path in files.items():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            if not destination.exists() or not destination.samefile(path):
                shutil.copy2(path, destination)
        return target

    @property
    def generator(self):
        """The torch generator, loaded now if it was not yet (``None`` with the onnx engine)."""
        return self.engine.generator

    def load_models(self) -> SelfieToBusinessPipeline:
        """Load now what the engine otherwise loads on first use (the torch engine's generator and discriminator A),
        e.g. in a server's main process when each request runs in a fork (ZeroGPU) that would forget it."""
        self.engine.generator, self.engine.classifier, self.finisher  # noqa: B018 - loads them
        return self

    @property
    def resolution(self) -> int:
        return self.engine.resolution

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={str(self.model_dir)!r}, engine={self.engine.name!r}, "
                f"device={self.engine.device!r}, resolution={self.resolution})")

    def __call__(self, image: ImageInput, attire: str = ATTIRE_AUTO, background: Any = DEFAULT_BACKGROUND,
                 size: int = 1024, aspect: str = "1:1", outfit: str | os.PathLike = OUTFIT_AUTO) -> HeadshotResult:
        """Turn ``image`` (path, bytes, PIL image or HxWx3 uint8 array) into a ``size`` px wide headshot.

        ``attire``: "auto" (classified from the photo), "suit" or "blazer". ``background``: a colour (name, hex,
        "R,G,B" or an RGB tuple). ``aspect``: "1:1" (``size`` x ``size``) or "4:5" (``size`` x 1.25 ``size``).
        ``outfit``: "auto" (the wardrobe's default outfit for the attire), an outfit id (``cyclegan-biz outfits``),
        the path of a photo of someone in business clothes (their outfit is cut from it), "keep" (the user's own
        clothes: new frame and background only) or "none" (the generator alone, canonical frame).
        Raises ``CycleBizError`` subclasses (unreadable image, no face, face too small, bad option, unknown outfit,
        no outfit in the given photo)."""
        attire = str(attire).lower()
        if attire not in ATTIRE_CHOICES:
            raise InvalidOptionError(f"Unknown attire {attire!r}; choose one of {', '.join(ATTIRE_CHOICES)}.")
        if aspect not in ASPECTS:
            raise InvalidOptionError(f"Unknown aspect {aspect!r}; choose one of {', '.join(ASPECTS)}.")
        if not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
            raise InvalidOptionError(f"Size must be an integer from {MIN_SIZE} to {MAX_SIZE} pixels, not {size!r}.")
        color = parse_color(background)
        watch = Stopwatch()
        outfit = os.fspath(outfit) if isinstance(outfit, os.PathLike) else str(outfit)
        if outfit.lower() in OUTFIT_SPECIAL:
            outfit = outfit.lower()
        if outfit == OUTFIT_NONE:
            return generator_headshot(self, image, attire, color, size, aspect, watch)
        return outfit_headshot(self, image, attire, outfit, color, size, aspect, watch)

    def _choose_attire(self, attire: str, square_input: np.ndarray, photo: np.ndarray | None = None,
                       face: Face | None = None):
        """``(attire, confidence, probabilities)``: the caller's choice, else the attire classifier's on ``photo``
        and its ``face`` (``wardrobe.attire_classifier``), else the discriminator's class head on the aligned
        photo (near chance on real photos: only when the classifier is not installed)."""
        if attire != ATTIRE_AUTO:
            return attire, None, None
        if photo is not None and face is not None:
            from ..wardrobe.attire_classifier import predict_attire

            predicted = predict_attire(photo, face)
            if predicted is not None:
                return predicted
        probs = self.engine.classify(square_input)
        if probs is None:
            return FALLBACK_ATTIRE, None, None
        index = int(np.argmax(probs))
        probabilities = {name: float(p) for name, p in zip(ATTIRES, probs, strict=False)}
        return ATTIRES[index], float(probs[index]), probabilities
