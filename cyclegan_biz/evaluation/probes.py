"""Linear probes on frozen features: "does this look like a business photo?" (domain, whole image) and "suit or
blazer?" (attire, lower half of the image), fitted with scikit-learn and cached as safetensors (never pickle).

Fitting is scikit-learn's ``StandardScaler`` + ``LogisticRegression`` (lbfgs, L2, ``class_weight="balanced"``) with
a stratified ``train_test_split``. It replaced a hand-written torch LBFGS fit of the same objective (mean
class-weighted log-loss + ``l2/2 |w|^2``, i.e. ``C = 1 / (l2 * n)``). On the EfficientNet-Lite0 features of 150
casual and 150 business photos: fitted on all 300, max |p difference| 0.0017 and identical classes; on the old split
(240 / 60), held-out accuracy 0.967 for both (max |p difference| 0.04: the old fit stopped after 200 LBFGS steps).
scikit-learn's stratified split holds out other photos: held-out accuracy 1.00 (domain, 60) and 1.00 (attire, 19)
where the old split gave 0.967 and 1.00 (two photos of 60).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..sources import scan_folder
from ..wardrobe.vocabulary import ATTIRE_AUTO, ATTIRES, attire_for_gender
from .features import embed_files, fingerprint

DOMAIN_CLASSES = ("casual", "business")
# Each probe's classes and the image region its features come from. The attire probe sees only the lower half:
# on the whole image it learnt gender (face, hair) more than clothes.
PROBES = {"domain": (DOMAIN_CLASSES, "full"), "attire": (ATTIRES, "torso")}


@dataclass
class LinearProbe:
    """``p(classes[1] | x) = sigmoid(((x - mean) / scale) . weight + bias)``: a fitted scikit-learn scaler and
    logistic regression, kept as plain arrays so they save as safetensors."""

    classes: tuple[str, str]
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: float
    info: dict = field(default_factory=dict)  # held-out scores, fingerprint, sizes: JSON-serialisable

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, classes: tuple[str, str], l2: float = 1e-2,
            balanced: bool = True, max_iter: int = 1000) -> LinearProbe:
        """Fit on ``features`` (N, D) and 0/1 ``labels``; ``balanced`` weighs each class equally in the loss."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        labels = np.asarray(labels, dtype=np.int64)
        if set(np.unique(labels).tolist()) != {0, 1}:
            raise ValueError(f"Both classes {classes} need at least one example to fit a probe.")
        scaler = StandardScaler().fit(features)
        # scikit-learn sums the loss over samples: C = 1 / (l2 * n) is the per-sample mean loss + l2/2 |w|^2.
        model = LogisticRegression(C=1.0 / (l2 * len(labels)), class_weight="balanced" if balanced else None,
                                   max_iter=max_iter).fit(scaler.transform(features), labels)
        return cls(tuple(classes), scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64),
                   model.coef_[0].astype(np.float64), float(model.intercept_[0]), {"l2": l2, "balanced": balanced})

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Probability of ``classes[1]`` for each row (what ``LogisticRegression.predict_proba[:, 1]`` gives)."""
        logits = ((np.asarray(features, dtype=np.float64) - self.mean) / self.scale) @ self.weight + self.bias
        # numpy only (no scipy): the attire classifier runs at inference, without the eval extra
        return 0.5 * (1.0 + np.tanh(0.5 * logits))  # = 1 / (1 + exp(-logits)), without overflow

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


def fit_with_holdout(features: np.ndarray, labels: np.ndarray, classes: tuple[str, str], test_fraction: float = 0.2,
                     seed: int = 0, copies: tuple[np.ndarray, np.ndarray] | None = None, **fit_kwargs) -> LinearProbe:
    """Fit on a stratified training split; the held-out scores go into ``probe.info["held_out"]``.

    The probe returned is the one that was scored (it is not refitted on everything), so the reported accuracy is
    that of the classifier actually used. ``copies``: (features, index of the row each copy was made from), e.g. of
    degraded photos: those of training rows are trained on too, those of held-out rows only scored
    (``info["held_out_copies"]``), so no photo is on both sides of the split.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels, dtype=np.int64)
    # At least one held-out photo per class, also for the tiny sets of tests and smoke runs.
    held_out = max(len(np.unique(labels)), round(test_fraction * len(labels)))
    train, test = train_test_split(np.arange(len(labels)), test_size=held_out, random_state=seed, stratify=labels)
    train_x, train_y = features[train], labels[train]
    if copies is not None:
        copy_x, source = copies
        trained_copy = np.isin(source, train)
        train_x = np.concatenate([train_x, copy_x[trained_copy]])
        train_y = np.concatenate([train_y, labels[source[trained_copy]]])
    probe = LinearProbe.fit(train_x, train_y, classes, **fit_kwargs)

    def scores(x: np.ndarray, truth: np.ndarray) -> dict[str, float | int]:
        predicted = probe.predict(x)
        return {"accuracy": float(accuracy_score(truth, predicted)),
                "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)), "n": int(len(truth))}

    probe.info["held_out"] = scores(features[test], labels[test])
    probe.info["n_train"] = {name: int(np.sum(labels[train] == i)) for i, name in enumerate(classes)}
    if copies is not None and (~trained_copy).any():
        probe.info["held_out_copies"] = scores(copy_x[~trained_copy], labels[source[~trained_copy]])
        probe.info["n_train_copies"] = int(trained_copy.sum())
    return probe


def cached_probe(path: Path, paths: Sequence[Path], labels: Sequence[int], classes: tuple[str, str],
                 features: Callable[[], np.ndarray], seed: int = 0, extra: str = "") -> LinearProbe:
    """Load the probe at ``path`` when it was fitted on exactly these files and labels, else fit and save it.

    ``features`` is only called (to embed the training images) when fitting is needed; ``extra`` names anything
    else the fit depends on (e.g. the image region the features come from).
    """
    key = fingerprint(paths, labels, f"{classes}|{seed}|{extra}|sklearn")
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


def feature_cache(cache: Path, region: str) -> Path:
    """Where the features of real photos for ``region`` are cached."""
    return cache / f"features_real_{region}.npz"


def fit_probes(train_casual: Sequence[str | Path], train_business: Sequence[str | Path], exclude: set[Path],
               extractors: dict[str, Callable], cache: Path, limit: int | None = None,
               seed: int = 0) -> dict[str, LinearProbe]:
    """The domain and attire probes (``PROBES``), loaded from ``cache`` when fitted on the same files, else fitted
    on features from ``extractors[region]`` and saved."""
    sets = training_sets(train_casual, train_business, exclude, limit, seed)
    probes = {}
    for name, (classes, region) in PROBES.items():
        paths, labels = sets[name]
        probes[name] = cached_probe(
            cache / f"{name}_probe.safetensors", paths, labels, classes,
            lambda paths=paths, region=region: embed_files(paths, extractors[region], feature_cache(cache, region),
                                                           f"training features ({region})"),
            seed, extra=region)
    return probes


def expected_attire(requested: str, gender: str | None) -> str | None:
    """The attire an output should wear: the requested one, or for "auto" the one matching the gender label."""
    if requested != ATTIRE_AUTO:
        return requested
    return attire_for_gender(gender)


def classify_outputs(records: list[dict], feats_out: dict[str, np.ndarray], probes: dict[str, LinearProbe],
                     attire: str, genders: Sequence[str | None]) -> None:
    """Add each output's p(business), predicted attire and whether it matches the expected attire."""
    p_business = probes["domain"].predict_proba(feats_out[PROBES["domain"][1]])
    p_suit = probes["attire"].predict_proba(feats_out[PROBES["attire"][1]])
    for record, pb, ps, gender in zip(records, p_business, p_suit, genders, strict=True):
        predicted, want = ATTIRES[int(ps >= 0.5)], expected_attire(attire, gender)
        record.update({"gender_label": gender, "p_business": float(pb), "p_suit": float(ps),
                       "predicted_attire": predicted, "expected_attire": want,
                       "attire_match": None if want is None else predicted == want})
