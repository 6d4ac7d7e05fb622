"""The model folder: the bundled default, a local folder or a Hugging Face Hub id, and loading its torch models
(safetensors only)."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import CycleBizError, MissingWeightsError
from ..wardrobe.vocabulary import FALLBACK_ATTIRE

log = logging.getLogger("cyclegan_biz")

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "pretrained" / "selfie2biz"
ONNX_GENERATOR = "model.onnx"
ONNX_CLASSIFIER = "attire_classifier.onnx"
# Files in a Hub repo the pipeline needs (the B2A generator and discriminator B are for training only).
# The finisher (issue 12: the trained seam correction of the outfit path) is optional, in its own subfolder.
FINISHER_SUBFOLDER = "finisher"
HUB_PATTERNS = ["config.json", "diffusion_pytorch_model*.safetensors*", ONNX_GENERATOR, ONNX_CLASSIFIER,
                "discriminator_a/config.json", "discriminator_a/*.safetensors*", f"{FINISHER_SUBFOLDER}/config.json",
                f"{FINISHER_SUBFOLDER}/*.safetensors*", "README.md"]


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
    """``from_pretrained`` options: float32, safetensors only, and no ``low_cpu_mem_usage``: with it diffusers builds
    the model inside accelerate's ``init_empty_weights``, which puts the parameters of any module another thread
    builds meanwhile (EfficientNet-Lite0 for the attire, a projected discriminator's backbone) on the meta device.
    The models are small, so the saving is nothing."""
    import torch

    return {"torch_dtype": torch.float32, "use_safetensors": True, "low_cpu_mem_usage": False}


# One model loads at a time in this process: ``warnings.catch_warnings`` is process-wide, and loads are rare (a
# Space's concurrent first requests: the generator for outfit="none", the finisher).
_LOADING = threading.Lock()


def _from_pretrained(model_class, folder: Path):
    """``model_class.from_pretrained(folder)`` in float32, safetensors only, one load at a time, quietly."""
    _require_safetensors(folder)
    with _LOADING, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_class.from_pretrained(folder, **_load_options())


def load_generator(folder: Path, device: str = "cpu"):
    """The A2B generator (``CycleBizGenerator``) in float32 eval mode. Safetensors weights only."""
    from ..models.generator import CycleBizGenerator

    return _from_pretrained(CycleBizGenerator, folder).to(device).eval().requires_grad_(False)


def load_classifier(folder: Path, device: str = "cpu"):
    """Discriminator A in float32 eval mode when the folder has one with a class head (the attire fallback), else
    None. Safetensors weights only."""
    disc_dir = folder / "discriminator_a"
    if not (disc_dir / "config.json").is_file():
        return None
    classifier = _from_pretrained(_discriminator_class(disc_dir), disc_dir)
    if getattr(classifier, "class_head", None) is None:
        return None
    if hasattr(type(classifier), "backbone"):
        # The projected discriminator rebuilds its frozen EfficientNet-Lite0 from a package: now, not mid-request.
        try:
            classifier.backbone  # noqa: B018
        except MissingWeightsError as err:
            log.warning("attire='auto' will choose %r: discriminator A needs %s", FALLBACK_ATTIRE, err)
            return None
    return classifier.to(device).eval().requires_grad_(False)


def load_torch_models(folder: Path, device: str = "cpu"):
    """``(generator, classifier or None)``: ``load_generator`` and ``load_classifier``."""
    return load_generator(folder, device), load_classifier(folder, device)


@contextmanager
def load_errors(folder: Path) -> Iterator[None]:
    """Turns what corrupt or incompatible model files raise into one clear ``MissingWeightsError``."""
    try:
        yield
    except CycleBizError:
        raise
    except Exception as err:
        raise MissingWeightsError(
            f"Could not load the model in {folder} ({type(err).__name__}: {' '.join(str(err).split())[:300]}). "
            "Re-download it or pass another model folder."
        ) from err


def check_safetensors(folder: Path) -> None:
    """Safetensors weights at the root of ``folder`` (and in ``discriminator_a/`` when it has a config) whose headers
    read: a cheap check at load time, before the weights themselves are loaded on first use."""
    from safetensors import safe_open

    for weights_dir in (folder, folder / "discriminator_a"):
        if weights_dir != folder and not (weights_dir / "config.json").is_file():
            continue
        _require_safetensors(weights_dir)
        for path in weights_dir.glob("diffusion_pytorch_model*.safetensors"):
            with safe_open(path, framework="numpy"):
                pass


def finisher_folder(model_dir: Path, finisher: bool | str | os.PathLike | None) -> Path | None:
    """Where the finisher is: the model's ``finisher/`` (``True``, when it has one), none (``False``/``None``) or
    the given folder (``MissingWeightsError`` when it holds no finisher)."""
    if finisher is None or finisher is False:
        return None
    if finisher is True:
        folder = Path(model_dir) / FINISHER_SUBFOLDER
        return folder if (folder / "config.json").is_file() else None
    folder = Path(finisher).expanduser()
    if not (folder / "config.json").is_file():
        raise MissingWeightsError(f"No finisher in {folder} (config.json missing): pass the output folder of "
                                  "scripts/train_finisher.py, or leave the finisher out.")
    return folder


def load_finisher(folder: Path):
    """The ``CycleBizFinisher`` saved in ``folder`` (float32, eval mode); a clear error when it cannot be read."""
    from ..models import CycleBizFinisher

    with load_errors(folder):
        return _from_pretrained(CycleBizFinisher, folder).eval().requires_grad_(False)
