"""ONNX: export the generator, the attire classifier and the finisher, and find the shipped or cached ``.onnx``
files."""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path

from ..environment import setting
from ..errors import MissingWeightsError
from ..wardrobe.vocabulary import ATTIRES
from .hub import ONNX_CLASSIFIER, ONNX_GENERATOR, load_finisher, load_torch_models


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
    classes = net.config.num_attire_classes or len(ATTIRES)

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

    metadata = {"attire_classes": ",".join(ATTIRES), "resolution": str(size),
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

    tmp = path.with_name(path.name + f".tmp{os.getpid()}-{threading.get_ident()}")  # one per writing thread
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
    base = setting("CACHE") or os.path.join(
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


def has_onnx(folder: Path) -> bool:
    """Whether ``folder`` ships ``model.onnx`` or an earlier onnx run exported it into the cache."""
    if (folder / ONNX_GENERATOR).is_file():
        return True
    return (onnx_cache_dir() / _fingerprint(folder) / ONNX_GENERATOR).is_file()


ONNX_FINISHER = "model.onnx"  # inside the finisher's folder (or its cache folder)


def onnx_session(path: str | os.PathLike, providers: list[str] | None = None):
    """An ONNX Runtime session as the pipeline runs them: quiet, and idle threads sleep instead of spinning (two CPU
    cores are shared with the rest of the pipeline)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])


def finisher_onnx_file(folder: Path, export: bool = True) -> Path | None:
    """The finisher in ``folder`` as ONNX (inputs ``image`` 1 x 3 x R x R in [-1, 1], ``band``, ``face``,
    ``person`` 1 x 1 x R x R; output ``correction`` 1 x 3 x r x r, see ``CycleBizFinisher.correction``): shipped in
    the folder, else exported once into the cache (needs torch and onnx; None when they are missing)."""
    folder = Path(folder)
    shipped = folder / ONNX_FINISHER
    if shipped.is_file():
        return shipped
    cached = onnx_cache_dir() / f"finisher-{_fingerprint(folder)}" / ONNX_FINISHER
    if not cached.is_file() and export:
        try:
            export_finisher_onnx(folder, cached)
        except ImportError:
            return None
    return cached if cached.is_file() else None


def export_finisher_onnx(folder: Path, path: Path, opset: int = 17) -> Path:
    """Write the finisher of ``folder`` to ``path`` as ONNX (float32, fixed 1 x R x R inputs)."""
    import torch

    model = load_finisher(folder)

    class _Correction(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, image, band, face, person):
            return self.model.correction(image, band, face, person)

    size = model.config.resolution
    example = (torch.zeros(1, 3, size, size), *(torch.zeros(1, 1, size, size) for _ in range(3)))
    path.parent.mkdir(parents=True, exist_ok=True)
    _export(_Correction(model), example, path, ["image", "band", "face", "person"], ["correction"], None, opset,
            {"resolution": str(size), "working_resolution": str(model.config.working_resolution)})
    return path
