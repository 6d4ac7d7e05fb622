"""The clothes probe: business or casual attire, judged on the region below the chin only.

The whole-image domain probe mostly rewards a studio look (it calls studio portraits in white T-shirts
business). This one sees only ``Portrait.clothes_region()`` — a level box under the chin at a fixed detail, with
the background flattened to grey — so backdrop, face, hair and resolution cannot decide. Features: the 1280-D pooled
ImageNet EfficientNet-Lite0 embedding; classifier: L2 logistic regression (scikit-learn, fitted by
``scripts/calibrate_evaluation.py``), shipped as safetensors in ``data/``. It was trained on business portraits not
used for outfits (near-duplicates of outfit sources removed) and casual photos; its held-out scores and training
files are in the probe's metadata. ``clothes_business_share`` is the share of outputs it calls business.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import cv2
import numpy as np

from .probes import LinearProbe
from .references import PROBE_FILE

CLASSES = ("casual", "business")
NET_WIDTH = 224  # the box is enlarged to this width for the feature network (height keeps the box's aspect)
MIN_COVERAGE = 0.35  # share of the clothes box that must lie inside the photo to be judged


def _network():
    """The feature network shared with ``features`` (one EfficientNet-Lite0 per process)."""
    from .features import _feature_module

    return _feature_module().net


def embed_regions(regions: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
    """(N, 1280) float32 EfficientNet-Lite0 features of clothes boxes (uint8 HxWx3, all the same size)."""
    import torch

    if not regions:
        return np.zeros((0, 1280), dtype=np.float32)
    height = int(round(regions[0].shape[0] * NET_WIDTH / regions[0].shape[1]))
    batches = []
    for start in range(0, len(regions), batch_size):
        batch = np.stack([cv2.resize(r, (NET_WIDTH, height), interpolation=cv2.INTER_CUBIC)
                          for r in regions[start:start + batch_size]])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        with torch.inference_mode():
            batches.append(_network().embed(x).numpy().astype(np.float32))
    return np.concatenate(batches)


@cache
def clothes_probe() -> LinearProbe:
    """The shipped probe; ``predict_proba`` gives p(business) of region features."""
    return LinearProbe.load(PROBE_FILE)


def p_business(regions: Sequence[np.ndarray], probe: LinearProbe | None = None) -> np.ndarray:
    """p(business attire) of each clothes box."""
    probe = probe or clothes_probe()
    return probe.predict_proba(embed_regions(regions)) if len(regions) else np.zeros(0)


def fit_clothes_probe(features: np.ndarray, labels: np.ndarray, c: float = 0.05, seed: int = 0) -> LinearProbe:
    """L2 logistic regression (scikit-learn, balanced classes) on standardised features, as a ``LinearProbe``."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
    model.fit((features - mean) / scale, labels)
    return LinearProbe(CLASSES, mean.astype(np.float64), scale.astype(np.float64),
                       model.coef_[0].astype(np.float64), float(model.intercept_[0]), {"C": c, "library": "sklearn"})
