"""Linear probes: L2-regularised logistic regression on frozen features (torch, no scikit-learn).

Used by the evaluation to score "does this look like a business photo?" and "suit or blazer?" on
EfficientNet-Lite0 features. Weights are saved as safetensors (never pickle), with the class names, the held-out
scores and a fingerprint of the training data in the file's metadata so a cache can be checked before use.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .data import scan_folder


@dataclass
class LinearProbe:
    """``p(classes[1] | x) = sigmoid(((x - mean) / scale) . weight + bias)``."""

    classes: tuple[str, str]
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: float
    info: dict = field(default_factory=dict)  # held-out scores, fingerprint, sizes: JSON-serialisable

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, classes: tuple[str, str], l2: float = 1e-2,
            balanced: bool = True, max_iter: int = 200) -> LinearProbe:
        """Fit on ``features`` (N, D) and 0/1 ``labels``; ``balanced`` weighs each class equally in the loss."""
        labels = np.asarray(labels, dtype=np.int64)
        if set(np.unique(labels).tolist()) != {0, 1}:
            raise ValueError(f"Both classes {classes} need at least one example to fit a probe.")
        mean = features.mean(axis=0)
        scale = features.std(axis=0) + 1e-6
        x = torch.from_numpy(((features - mean) / scale).astype(np.float32))
        y = torch.from_numpy(labels.astype(np.float32))
        counts = np.bincount(labels, minlength=2).astype(np.float32)
        per_class = len(labels) / (2 * counts) if balanced else np.ones(2, dtype=np.float32)
        sample_weight = torch.from_numpy(per_class[labels].astype(np.float32))
        weight = torch.zeros(x.shape[1], requires_grad=True)
        bias = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            logits = x @ weight + bias
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, weight=sample_weight)
            loss = loss + 0.5 * l2 * weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return cls(tuple(classes), mean, scale, weight.detach().numpy().astype(np.float64),
                   float(bias.item()), {"l2": l2, "balanced": balanced})

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of ``classes[1]`` for each row."""
        logits = ((np.asarray(features, dtype=np.float64) - self.mean) / self.scale) @ self.weight + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """0/1 class index per row."""
        return (self.predict_proba(features) >= 0.5).astype(np.int64)

    def save(self, path: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"mean": self.mean, "scale": self.scale, "weight": self.weight, "bias": np.array([self.bias])}
        metadata = {"classes": json.dumps(list(self.classes)), "info": json.dumps(self.info)}
        save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()}, str(path), metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> LinearProbe:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict
        return cls(tuple(json.loads(metadata["classes"])), tensors["mean"], tensors["scale"], tensors["weight"],
                   float(tensors["bias"][0]), json.loads(metadata.get("info", "{}")))


def stratified_split(labels: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) index arrays with ``test_fraction`` of each class held out (at least one per class)."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        held = max(1, round(test_fraction * len(members))) if len(members) > 1 else 0
        test.append(members[:held])
        train.append(members[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def accuracy_scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Plain accuracy, and balanced accuracy (mean of the per-class recalls: honest when classes are skewed)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if len(labels) == 0:
        return {"accuracy": float("nan"), "balanced_accuracy": float("nan")}
    recalls = [float(np.mean(predicted[labels == c] == c)) for c in np.unique(labels)]
    return {"accuracy": float(np.mean(labels == predicted)), "balanced_accuracy": float(np.mean(recalls))}


def fit_with_holdout(features: np.ndarray, labels: np.ndarray, classes: tuple[str, str], test_fraction: float = 0.2,
                     seed: int = 0, **fit_kwargs) -> LinearProbe:
    """Fit on a stratified training split; the held-out scores go into ``probe.info["held_out"]``.

    The probe returned is the one that was scored (it is not refitted on everything), so the reported accuracy is
    that of the classifier actually used.
    """
    labels = np.asarray(labels, dtype=np.int64)
    train, test = stratified_split(labels, test_fraction, seed)
    probe = LinearProbe.fit(features[train], labels[train], classes, **fit_kwargs)
    probe.info["held_out"] = {**accuracy_scores(labels[test], probe.predict(features[test])), "n": int(len(test))}
    probe.info["n_train"] = {name: int(np.sum(labels[train] == i)) for i, name in enumerate(classes)}
    return probe


# --- training data and cache ----------------------------------------------------------------------------------------
def file_key(path: str | Path) -> str:
    """Identifies one version of a file: resolved path, size and modification time."""
    path = Path(path)
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def fingerprint(paths: Sequence[Path], labels: Sequence[int], extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for path, label in zip(paths, labels, strict=True):
        digest.update(f"{file_key(path)}|{label}\n".encode())
    return digest.hexdigest()[:16]


def cached_probe(path: Path, paths: Sequence[Path], labels: Sequence[int], classes: tuple[str, str],
                 features: Callable[[], np.ndarray], seed: int = 0, extra: str = "") -> LinearProbe:
    """Load the probe at ``path`` when it was fitted on exactly these files and labels, else fit and save it.

    ``features`` is only called (to embed the training images) when fitting is needed; ``extra`` names anything
    else the fit depends on (e.g. the image region the features come from).
    """
    key = fingerprint(paths, labels, f"{classes}|{seed}|{extra}")
    if path.is_file():
        probe = LinearProbe.load(path)
        if probe.info.get("fingerprint") == key:
            return probe
    probe = fit_with_holdout(features(), np.asarray(labels), classes, seed=seed)
    probe.info["fingerprint"] = key
    probe.save(path)
    return probe


def training_sets(casual: Sequence[str | Path], business: Sequence[str | Path], exclude: set[Path],
                  limit: int | None = None, seed: int = 0) -> dict[str, tuple[list[Path], list[int]]]:
    """Files and labels for the two probes: domain (casual 0 / business 1) and attire (labelled business photos:
    female -> blazer 0, male -> suit 1). Files in ``exclude`` (those being evaluated) are left out."""
    def sources(folders, domain):
        found = [s for folder in folders for s in scan_folder(folder, domain)
                 if s.path.resolve() not in exclude and s.path.is_file()]
        return sorted(random.Random(seed).sample(found, min(limit, len(found))) if limit else found,
                      key=lambda s: str(s.path))

    casual_src, business_src = sources(casual, "casual"), sources(business, "business")
    labelled = [s for s in business_src if s.gender >= 0]
    return {
        "domain": ([s.path for s in casual_src + business_src], [0] * len(casual_src) + [1] * len(business_src)),
        "attire": ([s.path for s in labelled], [s.gender for s in labelled]),
    }


