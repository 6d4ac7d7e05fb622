"""What the distances and probes compare: 1280-D pooled ImageNet EfficientNet-Lite0 features of an image (or of its
lower half, the clothes), with an on-disk cache keyed by file version.

``EfficientNetLite0Features`` is a plain ``nn.Module`` (uint8 N x 3 x H x W -> N x 1280, ``num_features``), so it is
also a valid custom feature network for torchmetrics' ``KernelInceptionDistance`` / ``FrechetInceptionDistance``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..imageio import ImageInput, load_image

FEATURE_SIZE = 224
FEATURE_DIM = 1280
REGIONS = ("full", "torso")


def feature_input(image: ImageInput, size: int = FEATURE_SIZE, region: str = "full") -> np.ndarray:
    """What the feature network sees (uint8 HxWx3): the centre square of the image (``region="full"``) or of its
    lower half (``"torso"``, the clothes, with little of the face), resized (antialiased) to ``size``."""
    pil = load_image(image, max_side=None)
    if region == "torso":
        pil = pil.crop((0, pil.height // 2, pil.width, pil.height))
    side = min(pil.size)
    left, top = (pil.width - side) // 2, (pil.height - side) // 2
    square = pil.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC))


@cache
def _feature_module():
    """Built on first use (and once: frozen, inference only) so that importing this module does not import torch."""
    import torch

    from ..models.efficientnet_lite import load_efficientnet_lite0

    class EfficientNetLite0Features(torch.nn.Module):
        """uint8 images (N x 3 x H x W, 0-255) -> float32 pooled features (N x 1280)."""

        num_features = FEATURE_DIM  # torchmetrics reads this instead of probing the network

        def __init__(self) -> None:
            super().__init__()
            self.net = load_efficientnet_lite0()

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return self.net.embed(images.float() / 127.5 - 1.0)

    return EfficientNetLite0Features()


class FeatureExtractor:
    """Features (``EfficientNetLite0Features``) of images, or of their ``region``, in batches."""

    name = "effnet_lite0"

    def __init__(self, region: str = "full", batch_size: int = 32) -> None:
        self.module = _feature_module()
        self.region = region
        self.batch_size = batch_size

    def __call__(self, images: Iterable[ImageInput], total: int | None = None, desc: str | None = None,
                 region: str | None = None) -> np.ndarray:
        """(N, 1280) float32 features; ``region`` overrides the extractor's own for this call."""
        batches, batch = [], []
        for image in tqdm(images, total=total, desc=desc, disable=desc is None, unit="img"):
            batch.append(feature_input(image, region=region or self.region))
            if len(batch) == self.batch_size:
                batches.append(self._embed(batch))
                batch = []
        if batch:
            batches.append(self._embed(batch))
        return np.concatenate(batches) if batches else np.zeros((0, FEATURE_DIM), dtype=np.float32)

    def _embed(self, batch: list[np.ndarray]) -> np.ndarray:
        import torch

        images = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
        return self.module(images).numpy().astype(np.float32)


def lazy(factory: Callable[[], Callable]) -> Callable:
    """A callable that creates ``factory()`` on first use (no network is loaded when every feature is cached)."""
    holder: list[Callable] = []

    def call(*args, **kwargs):
        if not holder:
            holder.append(factory())
        return holder[0](*args, **kwargs)

    return call


def file_key(path: str | Path) -> str:
    """Identifies one version of a file: resolved path, size and modification time."""
    path = Path(path)
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def fingerprint(paths: Sequence[Path], labels: Sequence[int], extra: str) -> str:
    """A short hash of file versions, their labels and ``extra``: names one training set in a cache."""
    digest = hashlib.sha256(extra.encode())
    for path, label in zip(paths, labels, strict=True):
        digest.update(f"{file_key(path)}|{label}\n".encode())
    return digest.hexdigest()[:16]


def embed_files(paths: Sequence[Path], extractor: Callable, cache_file: Path | None = None,
                desc: str | None = None) -> np.ndarray:
    """Features of image files; with ``cache_file`` (.npz), files already embedded (same size and mtime) are reused."""
    keys = [file_key(Path(p)) for p in paths]
    cached: dict[str, np.ndarray] = {}
    if cache_file is not None and Path(cache_file).is_file():
        with np.load(cache_file, allow_pickle=False) as stored:
            cached = dict(zip(stored["keys"].tolist(), stored["features"], strict=True))
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:
        fresh = extractor((Path(paths[i]) for i in missing), total=len(missing), desc=desc)
        cached.update({keys[i]: row for i, row in zip(missing, fresh, strict=True)})
        if cache_file is not None:
            Path(cache_file).parent.mkdir(parents=True, exist_ok=True)
            partial = Path(f"{cache_file}.{os.getpid()}.partial")
            with partial.open("wb") as handle:  # written aside, then renamed: concurrent runs never read half a file
                np.savez(handle, keys=np.array(list(cached)), features=np.stack(list(cached.values())))
            os.replace(partial, cache_file)
    return np.stack([cached[key] for key in keys]) if keys else np.zeros((0, FEATURE_DIM), dtype=np.float32)
