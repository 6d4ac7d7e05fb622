"""Selfie in, business headshot out: ``SelfieToBusinessPipeline``.

    from cyclegan_biz import SelfieToBusinessPipeline

    pipe = SelfieToBusinessPipeline.from_pretrained()          # the bundled model; or a folder / Hub id
    result = pipe("selfie.jpg", attire="auto", background="studio-grey", size=1024, aspect="1:1")
    result.image.save("headshot.jpg", quality=95)

Steps (``result.timings`` has one entry per stage):

- decode: EXIF rotation, any colour mode, HEIC, decompression-bomb guard (``imageio``); JPEGs much bigger than the
  output needs are decoded at 1/2, 1/4 or 1/8 scale (decoded again finer if the face turns out too small for it);
- face: landmarks (on a copy of at most 1024 px) and the canonical alignment at the generator's resolution, padding
  filled with ``constants.PAD_VALUE`` as in training;
- generator: the attire (``"auto"``: discriminator A's class head on the aligned photo) and the A2B generator;
- compose: colours around the face matched to the photo (at model resolution), the result upsampled to the output
  size, and the ORIGINAL face pasted back at full resolution: exact in the face core, feathered at its rim. The output
  framing is the canonical one at output size (for 4:5, extended 10 % up and 15 % down: head-room and shoulders);
- background: the person segmented on the result, everything else (padding included) the chosen flat colour.

Attire: the caller's choice always wins (``attire_confidence`` None). ``"auto"`` uses the model's
``discriminator_a`` class head (softmax probability as confidence); a model without one gives ``FALLBACK_ATTIRE``
("suit") with confidence None.

Engines: "torch" (``CycleBizGenerator``), "onnx" (onnxruntime; uses ``model.onnx`` in the model folder, or exports one
into a cache folder on first use) and "auto" (onnx when onnxruntime is installed and the folder ships ``model.onnx`` or
it was exported into the cache before, else torch). The onnx engine with a shipped (or cached) ``model.onnx`` never
imports torch, which keeps cold starts short.

A loaded pipeline is reusable and may be called from several threads (the landmark and segmentation models are locked;
torch and onnxruntime inference are thread-safe).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from ..compose import (
    ASPECTS,
    DEFAULT_BACKGROUND,
    Framing,
    InvalidOptionError,
    match_colours,
    parse_color,
    paste_face,
    replace_background,
    soften_person_mask,
    upsample,
)
from ..constants import PAD_VALUE
from ..errors import CycleBizError, MissingWeightsError
from ..face import (
    CANONICAL_FACE_SIZE,
    MIN_FACE_SIZE,
    Face,
    align_face,
    compose_affine,
    detect_face,
    face_mask,
    person_mask,
    transform_points,
)
from ..imageio import DEFAULT_MAX_SIDE, MAX_DECODE_PIXELS, ImageInput, load_image
from ..wardrobe.vocabulary import OUTFIT_AUTO, OUTFIT_KEEP, OUTFIT_NONE

# OpenMP worker threads that spin while waiting make torch many times slower on a busy machine (a 2-core laptop with
# a browser open, a Space sharing its CPU): let them sleep instead. Only effective before torch is imported; an
# explicit OMP_WAIT_POLICY wins.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

log = logging.getLogger("cyclegan_biz")
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "selfie2biz"
# Equal to ``models.generator.ATTIRE_CLASSES`` (a test checks); repeated so the onnx engine needs no torch.
ATTIRE_CLASSES = ("blazer", "suit")
ATTIRE_CHOICES = ("auto", *ATTIRE_CLASSES)
# Without a classifier, attire="auto" falls back to this (with attire_confidence None).
FALLBACK_ATTIRE = "suit"
ENGINES = ("auto", "torch", "onnx")
ONNX_GENERATOR = "model.onnx"
ONNX_CLASSIFIER = "attire_classifier.onnx"
MIN_SIZE, MAX_SIZE = 64, 4096
STAGES = ("decode", "face", "generator", "compose", "background")
# On the outfit path, the person fades out over this many face sizes toward the photo's own edges (hair cut by a
# tight crop ends softly instead of in a straight line).
PHOTO_EDGE_FADE = 0.12
# Stages of the outfit path (outfit="auto", an id, a photo, or "keep": fewer).
OUTFIT_STAGES = ("decode", "face", "segment", "attire", "outfit", "pose", "fit", "compose")
# The person is segmented on a copy this wide; the matte is upsampled (mediapipe's model works at 256 px anyway).
SEGMENTATION_WIDTH = 256
# Files in a Hub repo the pipeline needs (the B2A generator and discriminator B are for training only).
HUB_PATTERNS = ["config.json", "diffusion_pytorch_model*.safetensors*", "model.onnx", "attire_classifier.onnx",
                "discriminator_a/config.json", "discriminator_a/*.safetensors*", "README.md"]


@dataclass
class HeadshotResult:
    """What the pipeline returns.

    ``attire``: "suit" or "blazer". ``attire_confidence``: the classifier's probability of that attire when
    ``attire="auto"`` chose it; ``None`` when the caller chose (the choice always wins) or when the model has no
    classifier (``attire="auto"`` then means ``FALLBACK_ATTIRE``). ``face_box``: (x0, y0, x1, y1) of the face
    landmarks in the input photo's pixels (upright, after EXIF rotation). ``timings``: seconds per stage.
    ``framing``: photo -> output transform (input photo pixels, as ``face_box``) so callers can map points.
    ``person_mask``: the output's soft person matte (float32 HxW, 0 = background colour). ``faces_found``: how many
    faces the photo has (the largest was used; callers should tell the user when there are several). ``outfit``: the
    outfit fitted (its id; "keep" or "none" for those paths; the id of a mirrored outfit is unchanged). ``warnings``:
    things the user should know about the photo (e.g. hair touching the top edge: the head is cut there).
    """

    image: Image.Image
    attire: str
    attire_confidence: float | None
    face_box: tuple[float, float, float, float]
    timings: dict[str, float]
    framing: Framing | None = field(default=None, repr=False)
    person_mask: np.ndarray | None = field(default=None, repr=False)
    attire_probabilities: dict[str, float] | None = None
    faces_found: int = 1
    outfit: str | None = None
    warnings: list[str] = field(default_factory=list)


# --- model files ---------------------------------------------------------------------------------------------------
def resolve_model_dir(path_or_hub_id: str | os.PathLike | None = None, revision: str | None = None,
                      allow_patterns: list[str] | None = HUB_PATTERNS) -> Path:
    """A local model folder: the bundled default (None), an existing folder, or a Hub id downloaded to the HF cache
    (only the files inference needs by default; ``allow_patterns=None`` downloads every file, e.g. for training)."""
    if path_or_hub_id is None:
        folder = DEFAULT_MODEL_DIR
        if not (folder / "config.json").is_file():
            raise MissingWeightsError(
                f"The bundled model is missing ({folder}). Reinstall cyclegan-biz from a release that includes it, "
                "or pass a model folder or Hugging Face Hub id (--model PATH_OR_ID / from_pretrained(PATH_OR_ID))."
            )
        return folder
    text = os.fspath(path_or_hub_id)
    path = Path(text).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise MissingWeightsError(
                f"{path} is not a model folder: it needs config.json and diffusion_pytorch_model.safetensors of the "
                "generator at its root (as written by save_pretrained)."
            )
        return path
    if text.startswith((".", "/", "~", "\\")) or text.count("/") != 1 or text.endswith("/"):
        raise MissingWeightsError(f"{text}: no such model folder, and not a Hub id (owner/name).")
    return _download(text, revision, allow_patterns)


def _download(repo_id: str, revision: str | None, allow_patterns: list[str] | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    try:
        return Path(snapshot_download(repo_id=repo_id, revision=revision, allow_patterns=allow_patterns))
    except HFValidationError as err:
        raise MissingWeightsError(f"{repo_id}: no such model folder, and not a valid Hub id ({err}).") from err
    except Exception as err:  # noqa: BLE001 - offline, unknown repo, gated, ...: one clear message
        raise MissingWeightsError(
            f"Could not get the model {repo_id!r} from the Hugging Face Hub ({type(err).__name__}: {err}). "
            "Check the id and your connection (or HF_TOKEN for private repos), or pass a local model folder."
        ) from err


def _discriminator_class(folder: Path):
    from ..models.cyclegan import discriminator_class

    try:
        return discriminator_class(folder / "config.json")
    except ValueError as err:
        raise MissingWeightsError(f"{err}. Re-export the model with this version of cyclegan-biz.") from err


def _require_safetensors(folder: Path) -> None:
    """Only safetensors weights are loaded: a pickle (``.bin``) can run any code when it is loaded."""
    if not any(folder.glob("diffusion_pytorch_model*.safetensors")):
        pickles = sorted(p.name for p in folder.glob("*.bin"))
        found = f" It has {', '.join(pickles)}: pickle files, which cyclegan-biz does not load because loading a " \
                "pickle can run any code." if pickles else ""
        raise MissingWeightsError(
            f"{folder} has no diffusion_pytorch_model.safetensors.{found} Use a model saved with save_pretrained "
            "(safetensors), or convert the weights with safetensors.torch.save_file."
        )


def _load_options() -> dict[str, Any]:
    """``from_pretrained`` options: safetensors only; ``low_cpu_mem_usage`` only with accelerate installed (without
    it diffusers would warn about it on every load; the models are small)."""
    import importlib.util

    import torch

    return {"torch_dtype": torch.float32, "use_safetensors": True,
            "low_cpu_mem_usage": importlib.util.find_spec("accelerate") is not None}


def load_torch_models(folder: Path, device: str = "cpu"):
    """``(generator, classifier or None)`` in float32 eval mode; the classifier is discriminator A (if it has a class
    head). Safetensors weights only."""
    from ..models.generator import CycleBizGenerator

    disc_dir = folder / "discriminator_a"
    has_disc = (disc_dir / "config.json").is_file()
    for weights_dir in (folder, disc_dir) if has_disc else (folder,):
        _require_safetensors(weights_dir)
    options = _load_options()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generator = CycleBizGenerator.from_pretrained(folder, **options)
        classifier = None
        if has_disc:
            classifier = _discriminator_class(disc_dir).from_pretrained(disc_dir, **options)
            if getattr(classifier, "class_head", None) is None:
                classifier = None
    if classifier is not None and hasattr(type(classifier), "backbone"):
        # The projected discriminator rebuilds its frozen EfficientNet-Lite0 from a package: now, not mid-request.
        try:
            classifier.backbone  # noqa: B018
        except MissingWeightsError as err:
            log.warning("attire='auto' will choose %r: discriminator A needs %s", FALLBACK_ATTIRE, err)
            classifier = None
    generator = generator.to(device).eval().requires_grad_(False)
    if classifier is not None:
        classifier = classifier.to(device).eval().requires_grad_(False)
    return generator, classifier


# --- ONNX ----------------------------------------------------------------------------------------------------------
def export_onnx(folder: str | os.PathLike, output_dir: str | os.PathLike | None = None, opset: int = 17,
                classifier: bool = True, generator: bool = True) -> dict[str, Path]:
    """Export the model in ``folder`` to ONNX: ``model.onnx`` (inputs ``image`` B x 3 x H x W in [-1, 1] and
    ``attire`` B x C float one-hot/probabilities; output ``image`` in [-1, 1]; batch, height and width dynamic) and,
    when discriminator A has a class head, ``attire_classifier.onnx`` (``image`` -> ``probabilities`` B x C).
    ``output_dir`` defaults to ``folder``. Returns the written paths by name ("generator", "classifier")."""
    import torch

    folder = Path(folder)
    output_dir = Path(output_dir) if output_dir is not None else folder
    output_dir.mkdir(parents=True, exist_ok=True)
    net, disc = load_torch_models(folder, "cpu")
    size = net.config.resolution
    classes = net.config.num_attire_classes or len(ATTIRE_CLASSES)

    class _Generator(torch.nn.Module):
        def __init__(self, net) -> None:
            super().__init__()
            self.net = net

        def forward(self, image, attire):
            return self.net(image, attire)

    class _Classifier(torch.nn.Module):
        def __init__(self, net) -> None:
            super().__init__()
            self.net = net

        def forward(self, image):
            return torch.softmax(self.net(image).class_logits.float(), dim=1)

    metadata = {"attire_classes": ",".join(ATTIRE_CLASSES), "resolution": str(size),
                "num_downsamples": str(net.config.num_downsamples)}
    paths = {}
    if generator:
        paths["generator"] = output_dir / ONNX_GENERATOR
        example = (torch.zeros(1, 3, size, size), torch.full((1, classes), 1.0 / classes))
        _export(_Generator(net), example, paths["generator"], ["image", "attire"], ["output"],
                {"image": {0: "batch", 2: "height", 3: "width"}, "attire": {0: "batch"},
                 "output": {0: "batch", 2: "height", 3: "width"}}, opset, metadata)
    if classifier and disc is not None:
        paths["classifier"] = output_dir / ONNX_CLASSIFIER
        _export(_Classifier(disc), (torch.zeros(1, 3, size, size),), paths["classifier"], ["image"], ["probabilities"],
                {"image": {0: "batch"}, "probabilities": {0: "batch"}}, opset, metadata)
    return paths


def _export(module, example, path: Path, inputs, outputs, dynamic_axes, opset: int, metadata: dict[str, str]) -> None:
    import onnx
    import torch

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), example, str(tmp), input_names=inputs, output_names=outputs,
                          dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False, do_constant_folding=True)
    model = onnx.load(str(tmp))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(tmp))
    os.replace(tmp, path)  # atomic: a concurrent reader never sees half a file


def onnx_cache_dir() -> Path:
    base = os.environ.get("CYCLEGAN_BIZ_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cyclegan-biz")
    return Path(base) / "onnx"


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    files = [folder / "config.json", *sorted(folder.glob("*.safetensors"))]
    disc = folder / "discriminator_a"
    files += [disc / "config.json", *sorted(disc.glob("*.safetensors"))] if disc.is_dir() else []
    for file in files:
        if file.is_file():
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def onnx_files(folder: Path, export: bool = True) -> dict[str, Path]:
    """The ONNX files for ``folder``: the shipped ones (``model.onnx``, ``attire_classifier.onnx``), else exports
    cached under ``onnx_cache_dir()`` (made now, once, if missing and ``export``; that needs torch and onnx)."""
    shipped = {"generator": folder / ONNX_GENERATOR, "classifier": folder / ONNX_CLASSIFIER}
    cache = onnx_cache_dir() / _fingerprint(folder)
    cached = {"generator": cache / ONNX_GENERATOR, "classifier": cache / ONNX_CLASSIFIER}
    no_classifier = cache / "no_classifier"  # discriminator A without a class head: nothing to export
    has_disc = (folder / "discriminator_a" / "config.json").is_file()
    export_generator = not shipped["generator"].is_file() and not cached["generator"].is_file()
    export_classifier = (has_disc and not shipped["classifier"].is_file() and not cached["classifier"].is_file()
                         and not no_classifier.exists())
    if export and (export_generator or export_classifier):
        try:
            written = export_onnx(folder, cache, generator=export_generator, classifier=export_classifier)
        except ImportError as err:
            raise MissingWeightsError(
                f"{folder} lacks {ONNX_GENERATOR} or {ONNX_CLASSIFIER}, and exporting needs torch and onnx ({err}). "
                "Run scripts/export_onnx.py where they are installed, or use engine='torch'."
            ) from err
        if export_classifier and "classifier" not in written:
            no_classifier.touch()
    files = {}
    for name in ("generator", "classifier"):
        for candidate in (shipped[name], cached[name]):
            if candidate.is_file():
                files[name] = candidate
                break
    return files


# --- engines -------------------------------------------------------------------------------------------------------
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
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see OMP_WAIT_POLICY above
        self.session = ort.InferenceSession(str(files["generator"]), options, providers=providers)
        self.classifier = None
        if "classifier" in files:
            self.classifier = ort.InferenceSession(str(files["classifier"]), options, providers=providers)
        meta = self.session.get_modelmeta().custom_metadata_map
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.resolution = int(meta.get("resolution", config.get("resolution", 256)))
        self.multiple = 2 ** int(meta.get("num_downsamples", config.get("num_downsamples", 2)))
        self.classes = int(self.session.get_inputs()[1].shape[1] or len(ATTIRE_CLASSES))
        self.generator = None

    def generate(self, image: np.ndarray, attire_id: int) -> np.ndarray:
        attire = np.zeros((1, self.classes), dtype=np.float32)
        attire[0, attire_id] = 1.0
        return self.session.run(None, {"image": image, "attire": attire})[0]

    def classify(self, image: np.ndarray) -> np.ndarray | None:
        if self.classifier is None:
            return None
        return self.classifier.run(None, {"image": image})[0][0]


def _has_onnx(folder: Path) -> bool:
    """Whether ``folder`` ships ``model.onnx`` or an earlier onnx run exported it into the cache."""
    if (folder / ONNX_GENERATOR).is_file():
        return True
    return (onnx_cache_dir() / _fingerprint(folder) / ONNX_GENERATOR).is_file()


def _onnxruntime_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


# --- decoding ------------------------------------------------------------------------------------------------------
def _open_reduced_jpeg(source: Any, min_long_side: int) -> tuple[Image.Image, int] | None:
    """A big JPEG decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling: much faster than a full decode), keeping
    the long side >= ``min_long_side``. ``None`` when that does not apply; errors are left to ``load_image``."""
    if not isinstance(source, (str, os.PathLike, bytes)):
        return None
    import io

    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
    except OSError:
        return None
    try:
        Image.MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream)
            long_side = max(image.size)
            too_big = image.width * image.height > MAX_DECODE_PIXELS
            if image.format != "JPEG" or too_big or long_side < 2 * min_long_side:
                return None
            ratio = min_long_side / long_side
            image.draft("RGB", (math.ceil(image.width * ratio), math.ceil(image.height * ratio)))
            image.load()
        return image, long_side
    except Exception:  # noqa: BLE001 - anything odd: the careful full decode reports it properly
        return None
    finally:
        stream.close()


def decode(source: ImageInput, min_long_side: int | None = None) -> tuple[np.ndarray, float]:
    """``(upright RGB uint8 array, scale)``: ``scale`` = decoded size / the photo's size (< 1 for reduced JPEGs and
    for photos above ``imageio.DEFAULT_MAX_SIDE``)."""
    reduced = _open_reduced_jpeg(source, min_long_side) if min_long_side else None
    if reduced is not None:
        image, original_long = reduced
        if image.mode != "RGB" or max(image.size) > DEFAULT_MAX_SIDE or _orientation(image) != 1:
            image = load_image(image, max_side=DEFAULT_MAX_SIDE)  # rotate / convert / shrink as usual
        return np.asarray(image), max(image.size) / original_long
    if isinstance(source, Image.Image):
        original_long = max(source.size)
    elif isinstance(source, np.ndarray):
        original_long = max(source.shape[:2])
    else:
        original_long = None
    image = load_image(source, max_side=DEFAULT_MAX_SIDE)
    if original_long is None:
        return np.asarray(image), 1.0 if max(image.size) < DEFAULT_MAX_SIDE else _original_scale(source, image)
    return np.asarray(image), max(image.size) / original_long


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block: let load_image deal with it
        return -1


def _analysis_frame(photo: np.ndarray, max_side: int = 1024) -> tuple[np.ndarray, int]:
    """``(copy reduced by an integer factor k to <= max_side, k)``; integer factors make cv2's area resize fast."""
    height, width = photo.shape[:2]
    k = math.ceil(max(height, width) / max_side)
    if k <= 1:
        return photo, 1
    import cv2

    h, w = height // k, width // k
    return cv2.resize(photo[: h * k, : w * k], (w, h), interpolation=cv2.INTER_AREA), k


def _original_scale(source: Any, image: Image.Image) -> float:
    """Photos shrunk by ``load_image``'s max_side: how much (reads the header again; rare)."""
    import io

    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as header:
            return max(image.size) / max(header.size)
    except Exception:  # noqa: BLE001
        return 1.0


def _to_model_input(crop: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 1x3xHxW float32 in [-1, 1]."""
    return (crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0).copy()


def _from_model_output(output: np.ndarray) -> np.ndarray:
    """1x3xHxW in [-1, 1] -> HxWx3 uint8."""
    return np.clip(np.rint((output[0].transpose(1, 2, 0) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def _read_photo(image: ImageInput, needed: float, size: int, lap) -> tuple[np.ndarray, float, Face, np.ndarray, Face]:
    """``(photo, scale, face, small, small_face)``: the decoded photo (big JPEGs at a reduced scale that still gives
    the face ``needed`` pixels in an output ``size`` wide), its landmarks, and the analysis copy of at most 1024 px
    (what the mesh uses anyway) with its own landmarks. ``lap(stage)`` records the time of "decode" and "face"."""
    min_long = max(1024, int(1.5 * size))
    photo, scale = decode(image, min_long_side=min_long)
    lap("decode")
    small, k = _analysis_frame(photo)
    small_face = detect_face(small, min_face_size=MIN_FACE_SIZE * scale / k)
    face = Face(small_face.points * k, small_face.groups, small_face.backend) if k > 1 else small_face
    lap("face")
    reduced_jpeg = scale < 0.99 and max(photo.shape[:2]) < DEFAULT_MAX_SIDE  # (not a photo shrunk to max_side)
    if face.size() < needed and reduced_jpeg and isinstance(image, (str, os.PathLike, bytes)):
        # The reduced decode would be upscaled: decode again at the resolution the output needs.
        finer, finer_scale = decode(image, min_long_side=int(max(photo.shape[:2]) * needed / face.size()) + 1)
        if finer_scale > scale:
            face = Face(face.points * (finer_scale / scale), face.groups, face.backend)
            photo, scale = finer, finer_scale
        lap("decode")
    return photo, scale, face, small, small_face


def _faded_edges(valid: np.ndarray, distance: float) -> np.ndarray:
    """float32 0..1: 1 deeper than ``distance`` pixels inside the 0/1 ``valid`` mask, fading to 0 at its border;
    1 everywhere when the photo covers the whole canvas."""
    if valid.all():
        return np.ones(valid.shape, dtype=np.float32)
    inside = cv2.distanceTransform(valid, cv2.DIST_L2, 3)
    return np.clip(inside / max(distance, 1.0), 0.0, 1.0)


# person probability (0..255) -> matte (float32 0..1)
_MATTE_LUT = soften_person_mask(np.arange(256, dtype=np.float32) / 255).reshape(1, 256)


# --- the pipeline --------------------------------------------------------------------------------------------------
class SelfieToBusinessPipeline:
    """Load once with ``from_pretrained``, then call with photos. See the module docstring."""

    def __init__(self, engine: TorchEngine | OnnxEngine, model_dir: Path | None = None) -> None:
        self.engine = engine
        self.model_dir = model_dir
        self.load_seconds: float | None = None

    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | os.PathLike | None = None, engine: str = "auto",
                        device: str | None = None, revision: str | None = None) -> SelfieToBusinessPipeline:
        """``path_or_hub_id``: None (the bundled model in ``cyclegan_biz/pretrained/selfie2biz``), a model folder
        (generator at the root, optional ``discriminator_a/``) or a Hugging Face Hub id. ``engine``: "torch",
        "onnx" or "auto" (onnx when onnxruntime is installed and ``model.onnx`` is shipped or cached, else torch).
        ``device``: "cpu", "cuda" or None (cuda when available)."""
        if engine not in ENGINES:
            raise InvalidOptionError(f"Unknown engine {engine!r}; choose one of {', '.join(ENGINES)}.")
        start = time.perf_counter()
        folder = resolve_model_dir(path_or_hub_id, revision)
        if engine == "auto":
            engine = "onnx" if _onnxruntime_available() and _has_onnx(folder) else "torch"
        try:
            runner = OnnxEngine(folder, device) if engine == "onnx" else TorchEngine(folder, device)
        except CycleBizError:
            raise
        except Exception as err:  # corrupt or incompatible files: one clear message
            raise MissingWeightsError(
                f"Could not load the model in {folder} ({type(err).__name__}: {' '.join(str(err).split())[:300]}). "
                "Re-download it or pass another model folder."
            ) from err
        pipe = cls(runner, folder)
        pipe.load_seconds = time.perf_counter() - start
        return pipe

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
        """The torch generator (``None`` with the onnx engine)."""
        return self.engine.generator

    @property
    def resolution(self) -> int:
        return self.engine.resolution

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={str(self.model_dir)!r}, engine={self.engine.name!r}, "
                f"device={self.engine.device!r}, resolution={self.resolution})")

    def __call__(self, image: ImageInput, attire: str = "auto", background: Any = DEFAULT_BACKGROUND,
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
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + now - clock
            clock = now

        outfit = os.fspath(outfit) if isinstance(outfit, os.PathLike) else str(outfit)
        if outfit.lower() in (OUTFIT_AUTO, OUTFIT_KEEP, OUTFIT_NONE):
            outfit = outfit.lower()
        if outfit != OUTFIT_NONE:
            return self._outfit_headshot(image, attire, outfit, color, size, aspect, lap, timings)

        # 1. decode and 2. face
        photo, scale, face, small, small_face = _read_photo(image, CANONICAL_FACE_SIZE * size, size, lap)
        # The generator's input (and the classifier's) at model resolution, from the small copy.
        resolution = self.engine.resolution
        small_alignment = align_face(small_face, resolution)
        square = Framing.from_alignment(small_alignment).warp(small, border_value=(PAD_VALUE,) * 3)
        crop_framing = Framing.from_alignment(small_alignment, aspect, self.engine.multiple)
        crop = square if aspect == "1:1" else crop_framing.warp(small, border_value=(PAD_VALUE,) * 3)
        # The same framing in the photo's pixels, for the output.
        model_framing = Framing.from_alignment(align_face(face, resolution), aspect, self.engine.multiple)
        lap("face")

        # 3. attire and generator
        square_input = _to_model_input(square)
        attire, confidence, probabilities = self._choose_attire(attire, square_input)
        attire_id = ATTIRE_CLASSES.index(attire)
        model_input = square_input if aspect == "1:1" else _to_model_input(crop)
        generated = _from_model_output(self.engine.generate(model_input, attire_id))
        lap("generator")

        # 4. compose: colours matched around the face at model resolution, then upsampled to the output size and
        # the original face pasted back at full resolution.
        crop_mask = face_mask(crop.shape, small_face.transformed(crop_framing.matrix))
        crop_mask *= crop_framing.valid_mask(small.shape)
        generated = match_colours(generated, crop, crop_mask, CANONICAL_FACE_SIZE * resolution)
        framing = model_framing.resized(size)
        composed = upsample(generated, framing.width, framing.height)
        composed = composed.copy() if composed is generated else composed
        face_alpha, box = paste_face(composed, photo, face, framing)
        lap("compose")

        # 5. background
        person = self._person_matte(composed)
        if box is not None:  # the face is always the person's
            x0, y0, x1, y1 = box
            np.maximum(person[y0:y1, x0:x1], face_alpha, out=person[y0:y1, x0:x1])
        result = replace_background(composed, person, color)
        lap("background")

        box = tuple(float(v / scale) for v in face.box)
        return HeadshotResult(
            image=Image.fromarray(result), attire=attire, attire_confidence=confidence, face_box=box,
            timings=timings, framing=framing.scaled_photo(scale), person_mask=person,
            attire_probabilities=probabilities, faces_found=small_face.faces_found, outfit=OUTFIT_NONE,
        )

    def _choose_attire(self, attire: str, square_input: np.ndarray):
        """``(attire, confidence, probabilities)``: the caller's choice, or the classifier's on the aligned photo."""
        if attire != "auto":
            return attire, None, None
        probs = self.engine.classify(square_input)
        if probs is None:
            return FALLBACK_ATTIRE, None, None
        index = int(np.argmax(probs))
        probabilities = {name: float(p) for name, p in zip(ATTIRE_CLASSES, probs, strict=False)}
        return ATTIRE_CLASSES[index], float(probs[index]), probabilities

    def _outfit_headshot(self, image: ImageInput, attire: str, outfit: str, color: tuple[int, int, int],
                         size: int, aspect: str, lap, timings: dict[str, float]) -> HeadshotResult:
        """The outfit path: the headshot frame (whole head), a real outfit fitted under the head (or the user's own
        clothes for ``outfit="keep"``), the exact face, a flat background. See ``wardrobe.fitting``."""
        from ..headshot_frame import FRAME_TARGETS, head_top, headshot_framing
        from ..wardrobe import fitting

        needed = FRAME_TARGETS[aspect][1] * size
        photo, scale, face, small, small_face = _read_photo(image, needed, size, lap)
        # 3. the person: segmented once on a small copy (mediapipe's model works at 256 px anyway)
        seg_k = min(1.0, SEGMENTATION_WIDTH / small.shape[1])
        seg_image = cv2.resize(small, None, fx=seg_k, fy=seg_k, interpolation=cv2.INTER_AREA) if seg_k < 1 else small
        person_small = person_mask(seg_image)
        seg_face = small_face.transformed(np.array([[seg_k, 0, 0], [0, seg_k, 0]]))
        top = head_top(person_small, seg_face)
        top.above_eyes *= face.size() / seg_face.size()
        framing = headshot_framing(face, top, size, aspect)
        warnings_ = []
        if top.touches_top:
            warnings_.append("The hair touches the top edge of the photo, so the top of the head is cut off; for a "
                             "complete head, use a photo with some space above the hair.")
        canvas = framing.warp(photo)
        photo_per_seg = face.size() / seg_face.size()
        seg_framing = Framing(compose_affine(framing.matrix, np.array([[photo_per_seg, 0, 0], [0, photo_per_seg, 0]])),
                              framing.width, framing.height)
        canvas_face = face.transformed(framing.matrix)
        person = seg_framing.warp(person_small)
        person = cv2.LUT(np.clip(np.rint(person * 255), 0, 255).astype(np.uint8), _MATTE_LUT)
        # the photo's own edges fade out (hair or shoulders cut by the photo end softly, not in a straight line)
        person *= _faded_edges(seg_framing.valid_mask(person_small.shape), PHOTO_EDGE_FADE * canvas_face.size())
        lap("segment")

        attire_used, confidence, probabilities, outfit_id = attire, None, None, outfit
        if outfit == OUTFIT_KEEP:
            composed = replace_background(canvas, person, color)
            matte = person
        else:
            if outfit == OUTFIT_AUTO and attire == "auto":
                alignment = align_face(small_face, self.engine.resolution)
                square = Framing.from_alignment(alignment).warp(small, border_value=(PAD_VALUE,) * 3)
                attire_used, confidence, probabilities = self._choose_attire(attire, _to_model_input(square))
            lap("attire")
            chosen = fitting.resolve_outfit(outfit, attire_used,
                                            *fitting.estimate_turn_and_light(canvas, canvas_face))
            attire_used, outfit_id = chosen.attire, chosen.id
            lap("outfit")
            shoulders = self._shoulders(small, photo.shape, framing, face.size() / small_face.size())
            lap("pose")
            fit = fitting.fit_outfit(canvas, person, canvas_face, chosen, color, shoulders)
            composed, matte = fit.image, fit.person
            lap("fit")
        face_alpha, box = paste_face(composed, photo, face, framing)
        if box is not None:
            x0, y0, x1, y1 = box
            np.maximum(matte[y0:y1, x0:x1], face_alpha, out=matte[y0:y1, x0:x1])
        lap("compose")
        return HeadshotResult(
            image=Image.fromarray(composed), attire=attire_used, attire_confidence=confidence,
            face_box=tuple(float(v / scale) for v in face.box), timings=timings, framing=framing.scaled_photo(scale),
            person_mask=matte, attire_probabilities=probabilities, faces_found=small_face.faces_found,
            outfit=outfit_id, warnings=warnings_,
        )

    @staticmethod
    def _shoulders(small: np.ndarray, photo_shape, framing: Framing, photo_per_small: float):
        """Both shoulders on the canvas when the pose model saw them inside the photo, else None."""
        from ..vision.pose import detect_shoulders

        found = detect_shoulders(small)
        if found is None or not found.usable():
            return None
        points = np.array([found.left, found.right], dtype=np.float64) * photo_per_small
        return tuple(transform_points(points, framing.matrix))

    @staticmethod
    def _person_matte(image: np.ndarray) -> np.ndarray:
        import cv2

        height, width = image.shape[:2]
        small_w = min(width, SEGMENTATION_WIDTH)
        small_h = max(1, round(height * small_w / width))
        small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA) if small_w < width else image
        # Upsample the probabilities (8-bit: fast), then sharpen them with a lookup table: smooth contours, no steps.
        probabilities = np.clip(np.rint(person_mask(small) * 255), 0, 255).astype(np.uint8)
        if probabilities.shape != (height, width):
            probabilities = cv2.resize(probabilities, (width, height), interpolation=cv2.INTER_LINEAR)
        return cv2.LUT(probabilities, _MATTE_LUT)


__all__ = [
    "ATTIRE_CLASSES", "DEFAULT_BACKGROUND", "DEFAULT_MODEL_DIR", "CycleBizError", "HeadshotResult",
    "SelfieToBusinessPipeline", "decode", "export_onnx", "parse_color", "resolve_model_dir",
]
