"""Evaluation metrics for selfie -> business headshot translation.

Every metric works on arrays or PIL images, so it applies to any two folders and any model:

* ``kid`` / ``fid``: distribution distances between two feature sets. The features are the 1280-D pooled
  ImageNet EfficientNet-Lite0 features (``FeatureExtractor``), *not* Inception-v3: the numbers are named
  ``kid_effnet_lite0`` / ``fid_effnet_lite0`` and are not comparable with published FID/KID values.
* ``FaceEmbedder`` / ``identity_distance``: dlib's 128-D face embedding distance (same person below 0.6).
* ``face_preservation_error``: mean absolute pixel difference inside the face (brows to chin), each image
  re-detected and aligned to the canonical 256 px crop with its own landmarks.
* ``background_std``: how uniform the background (person mask < 0.5) is.

``evaluate_folders`` runs them all on folders and ``write_outputs`` writes metrics.json, report.md and a
contact sheet. Folder defaults live in ``scripts/evaluate.py`` only.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from .classifiers import LinearProbe, cached_probe, file_key, fingerprint, training_sets
from .data import iter_images, scan_folder
from .errors import CycleBizError
from .face import align_face, detect_face, face_mask, person_mask
from .imageio import load_image, load_rgb_array
from .visualize import fitted_tile, image_grid

ImageLike = Image.Image | np.ndarray
SAME_PERSON_THRESHOLD = 0.6  # dlib's documented same-person distance
FEATURE_SIZE = 224
ATTIRES = ("blazer", "suit")  # probe classes: 0 = blazer (women), 1 = suit (men)
DOMAIN_CLASSES = ("casual", "business")
# Each probe's classes and the image region its features come from. The attire probe sees only the lower half:
# on the whole image it learnt gender (face, hair) more than clothes.
PROBES = {"domain": (DOMAIN_CLASSES, "full"), "attire": (ATTIRES, "torso")}


def _rgb(image: ImageLike) -> np.ndarray:
    return load_rgb_array(image, max_side=None)


def _shrink(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """``rgb`` shrunk (area-averaged) to at most ``max_side`` px on its long side; never enlarged."""
    scale = max_side / max(rgb.shape[:2])
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb


# --- features and distribution distances ----------------------------------------------------------------------------
def feature_input(image: ImageLike, size: int = FEATURE_SIZE, region: str = "full") -> np.ndarray:
    """What the feature network sees (uint8 HxWx3): the centre square of the image (``region="full"``) or of its
    lower half (``"torso"``, the clothes, with little of the face), resized (antialiased) to ``size``."""
    pil = load_image(image, max_side=None)
    if region == "torso":
        pil = pil.crop((0, pil.height // 2, pil.width, pil.height))
    side = min(pil.size)
    left, top = (pil.width - side) // 2, (pil.height - side) // 2
    square = pil.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC))


class FeatureExtractor:
    """1280-D ImageNet EfficientNet-Lite0 features (``embed``) of images (or of their ``region``), in batches."""

    name = "effnet_lite0"

    def __init__(self, region: str = "full", batch_size: int = 32) -> None:
        from .models.efficientnet_lite import load_efficientnet_lite0

        self.model = load_efficientnet_lite0()
        self.region = region
        self.batch_size = batch_size

    def __call__(self, images: Iterable[ImageLike], total: int | None = None, desc: str | None = None,
                 region: str | None = None) -> np.ndarray:
        """(N, 1280) float32 features; ``region`` overrides the extractor's own for this call."""
        import torch

        batches, batch = [], []
        for image in tqdm(images, total=total, desc=desc, disable=desc is None, unit="img"):
            batch.append(feature_input(image, region=region or self.region))
            if len(batch) == self.batch_size:
                batches.append(self._embed(batch, torch))
                batch = []
        if batch:
            batches.append(self._embed(batch, torch))
        return np.concatenate(batches) if batches else np.zeros((0, 1280), dtype=np.float32)

    def _embed(self, batch: list[np.ndarray], torch) -> np.ndarray:
        x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        with torch.inference_mode():
            return self.model.embed(x).numpy().astype(np.float32)


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
    return np.stack([cached[key] for key in keys]) if keys else np.zeros((0, 1280), dtype=np.float32)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(x . y / d + 1) ** 3``, the KID kernel of Binkowski et al. (2018)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kid(x: np.ndarray, y: np.ndarray, subset_size: int = 100, num_subsets: int = 100,
        seed: int = 0) -> dict[str, float]:
    """Kernel Inception-style distance: unbiased MMD^2 with the polynomial kernel, averaged over random subsets.

    The subset size shrinks to the smaller set (``min(subset_size, len(x), len(y))``), so small sets work; it is
    returned with the mean and the standard deviation over subsets.
    """
    m = min(subset_size, len(x), len(y))
    if m < 2:
        return {"mean": math.nan, "std": math.nan, "subset_size": m}
    rng = np.random.default_rng(seed)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    values = []
    for _ in range(num_subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        k_aa, k_bb, k_ab = polynomial_kernel(a, a), polynomial_kernel(b, b), polynomial_kernel(a, b)
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
        values.append(within - 2.0 * k_ab.mean())
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "subset_size": m}


def fid(x: np.ndarray, y: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets:
    ``|mu_x - mu_y|^2 + tr(S_x) + tr(S_y) - 2 tr((S_x S_y)^1/2)``.

    ``tr((S_x S_y)^1/2)`` is the sum of the singular values of ``X_c Y_c^T / sqrt((n-1)(m-1))`` (centred
    features), exact and cheap when a set has fewer images than dimensions; otherwise it is computed from symmetric
    eigendecompositions. Both stay stable with singular covariances, unlike a general matrix square root.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        return math.nan
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    norm = (len(x) - 1) * (len(y) - 1)
    if min(len(x), len(y)) < x.shape[1]:
        trace_sqrt = np.linalg.svd(xc @ yc.T, compute_uv=False).sum() / np.sqrt(norm)
    else:
        cov_x, cov_y = xc.T @ xc / (len(x) - 1), yc.T @ yc / (len(y) - 1)
        values, vectors = np.linalg.eigh(cov_x)
        root_x = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(root_x @ cov_y @ root_x), 0, None)).sum()
    diff = x.mean(axis=0) - y.mean(axis=0)
    traces = (xc * xc).sum() / (len(x) - 1) + (yc * yc).sum() / (len(y) - 1)
    return float(max(0.0, diff @ diff + traces - 2.0 * trace_sqrt))


# --- identity (dlib) ------------------------------------------------------------------------------------------------
def _dlib_model_path(name: str) -> str:
    """A model file bundled by ``face-recognition-models``.

    Its accessors import ``pkg_resources``, which recent setuptools no longer ships: fall back to the package folder.
    """
    try:
        import face_recognition_models as models

        return {"pose": models.pose_predictor_model_location,
                "recognition": models.face_recognition_model_location}[name]()
    except ImportError:
        import importlib.util

        folder = Path(importlib.util.find_spec("face_recognition_models").submodule_search_locations[0])
        files = {"pose": "shape_predictor_68_face_landmarks.dat",
                 "recognition": "dlib_face_recognition_resnet_model_v1.dat"}
        return str(folder / "models" / files[name])


class FaceEmbedder:
    """dlib's 128-D face embedding (HOG detector, 68-point landmarks, ResNet), models bundled offline."""

    # Everything runs on a copy of at most this many pixels on the long side (the ResNet sees a 150 px face chip).
    max_side = 640

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape_predictor = dlib.shape_predictor(_dlib_model_path("pose"))
        self.recognizer = dlib.face_recognition_model_v1(_dlib_model_path("recognition"))

    def __call__(self, image: ImageLike) -> np.ndarray | None:
        """The embedding of the largest face, or None when no face is found."""
        rgb = np.ascontiguousarray(_shrink(_rgb(image), self.max_side))
        boxes = self.detector(rgb, 0) or self.detector(rgb, 1)  # upsampled once only when needed (small faces)
        if not boxes:
            return None
        shape = self.shape_predictor(rgb, max(boxes, key=lambda r: r.area()))
        return np.array(self.recognizer.compute_face_descriptor(rgb, shape), dtype=np.float64)


@lru_cache(maxsize=1)
def face_embedder() -> FaceEmbedder:
    return FaceEmbedder()


def identity(source: ImageLike, output: ImageLike, embedder: Callable | None = None) -> dict[str, Any]:
    """dlib embedding distance of two photos (NaN unless both have a detectable face), and which had one."""
    embedder = embedder or face_embedder()
    ea, eb = embedder(source), embedder(output)
    distance = math.nan if ea is None or eb is None else float(np.linalg.norm(ea - eb))
    return {"identity_distance": distance, "input_face_found": ea is not None, "output_face_found": eb is not None}


def identity_distance(a: ImageLike, b: ImageLike, embedder: Callable | None = None) -> float:
    """Euclidean distance of the dlib embeddings of two photos; NaN when either has no detectable face."""
    return identity(a, b, embedder)["identity_distance"]


# --- face preservation and background -------------------------------------------------------------------------------
def aligned_face(image: ImageLike, size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(canonical crop, face mask, valid mask) of the largest face, aligned with the image's own landmarks.

    Landmarks are found on a copy of at most ``2 * size`` px (plenty for a ``size`` crop, and faster)."""
    rgb = _shrink(_rgb(image), 2 * size)
    face = detect_face(rgb, min_face_size=0)
    alignment = align_face(face, size)
    crop = alignment.warp(rgb)
    return crop, face_mask(crop.shape, face.transformed(alignment.matrix)), alignment.valid_mask(rgb.shape)


def face_preservation_error(source: ImageLike, output: ImageLike, size: int = 256) -> float:
    """Mean absolute difference (0-255) inside the input's face mask between the two canonical face crops.

    Each image is re-detected and aligned with its own landmarks, so outputs of any size or framing compare; the
    mask is the input's face (brows to chin) where both crops have real pixels. NaN when a face is not found.
    """
    try:
        crop_in, face_in, valid_in = aligned_face(source, size)
        crop_out, _, valid_out = aligned_face(output, size)
    except CycleBizError:
        return math.nan
    inside = (face_in > 0) & (valid_in > 0) & (valid_out > 0)
    if not inside.any():
        return math.nan
    diff = np.abs(crop_in.astype(np.float32) - crop_out.astype(np.float32))
    return float(diff[inside].mean())


def background_std(image: ImageLike, mask: np.ndarray | None = None, size: int = 256, margin: int = 4,
                   min_fraction: float = 0.01) -> float:
    """Standard deviation (0-255, mean over R, G, B) of the background: where the person mask is below 0.5, at
    least ``margin`` px away from the person (segmentation edges, stray hair are not background).

    The image is first shrunk to ``size`` px on its long side so photos of any resolution compare; ``margin`` is in
    those pixels. ``mask`` (the soft person mask, same size as ``image``) is computed with mediapipe when not given.
    NaN when less than ``min_fraction`` of the image is background.
    """
    rgb = _shrink(_rgb(image), size)
    if mask is not None:
        mask = cv2.resize(np.asarray(mask, dtype=np.float32), (rgb.shape[1], rgb.shape[0]),
                          interpolation=cv2.INTER_LINEAR)
    person = ((person_mask(rgb) if mask is None else mask) >= 0.5).astype(np.uint8)
    if margin > 0:
        person = cv2.dilate(person, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    background = person == 0
    if background.mean() < min_fraction:
        return math.nan
    return float(rgb[background].astype(np.float64).std(axis=0).mean())


# --- labels, pairing, classifiers -----------------------------------------------------------------------------------
def read_gender_labels(folder: str | Path) -> dict[Path, str]:
    """``{resolved image path: "female" | "male"}`` from the metadata.csv of ``folder`` or of its two parents."""
    folder = Path(folder).resolve()
    labels: dict[Path, str] = {}
    for directory in (folder.parent.parent, folder.parent, folder):  # nearest file wins
        if (directory / "metadata.csv").is_file():
            for source in scan_folder(directory, ""):
                if source.gender >= 0:
                    labels[source.path.resolve()] = ("female", "male")[source.gender]
    return labels


@dataclass
class Pair:
    name: str
    output: Path
    source: Path | None = None  # the input selfie, when known


def pair_by_stem(outputs: Sequence[Path], sources: Sequence[Path] | None) -> tuple[list[Pair], list[str]]:
    """Each output with the input of the same file stem; returns (pairs, stems of outputs without an input)."""
    if sources is None:
        return [Pair(p.stem, p) for p in outputs], []
    by_stem = {}
    for path in sources:
        by_stem.setdefault(path.stem, path)
    pairs = [Pair(p.stem, p, by_stem[p.stem]) for p in outputs if p.stem in by_stem]
    return pairs, [p.stem for p in outputs if p.stem not in by_stem]


def expected_attire(requested: str, gender: str | None) -> str | None:
    """The attire an output should wear: the requested one, or for "auto" the one matching the gender label."""
    if requested != "auto":
        return requested
    return {"female": "blazer", "male": "suit"}.get(gender or "")


# --- translating a folder with a model ------------------------------------------------------------------------------
def translate_folder(model: str | None, sources: Sequence[Path], output_dir: Path, attire: str = "auto",
                     size: int = 1024, outfit: str | None = None) -> dict[str, dict[str, Any]]:
    """Run ``SelfieToBusinessPipeline`` on each selfie, saving ``output_dir/<stem>.png`` (``outfit``: passed on
    when given).

    Returns ``{stem: {"attire", "attire_confidence", "seconds"} or {"error"}}``.
    """
    from .pipeline import SelfieToBusinessPipeline  # written alongside; imported only when a model is evaluated

    pipe = SelfieToBusinessPipeline.from_pretrained(model)
    output_dir.mkdir(parents=True, exist_ok=True)
    info: dict[str, dict[str, Any]] = {}
    for path in tqdm(sources, desc="translating", unit="img"):
        start = time.perf_counter()
        (output_dir / f"{path.stem}.png").unlink(missing_ok=True)  # never evaluate a previous run's output
        try:
            result = pipe(path, attire=attire, size=size, **({"outfit": outfit} if outfit else {}))
        except CycleBizError as err:
            info[path.stem] = {"error": f"{type(err).__name__}: {err}"}
            continue
        result.image.save(output_dir / f"{path.stem}.png")
        info[path.stem] = {"attire": result.attire, "attire_confidence": result.attire_confidence,
                           "seconds": time.perf_counter() - start}
    return info


# --- running everything ---------------------------------------------------------------------------------------------
def _nanmean(values: Iterable[float]) -> float | None:
    array = np.array([v for v in values if v is not None], dtype=np.float64)
    return float(np.nanmean(array)) if np.isfinite(array).any() else None


def pair_metrics(pair: Pair) -> dict[str, Any]:
    """Identity, face preservation and background uniformity of one output (and its input, when known)."""
    output = load_rgb_array(pair.output)
    record: dict[str, Any] = {"name": pair.name, "output": str(pair.output),
                              "input": str(pair.source) if pair.source else None,
                              "background_std": background_std(output)}
    if pair.source is not None:
        source = load_rgb_array(pair.source)
        record.update(identity(source, output))
        record["face_preservation_mae"] = face_preservation_error(source, output)
        record["input_background_std"] = background_std(source)
    return record


def identity_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean distance over pairs with both faces; share under 0.6 among pairs whose input face was found (an
    output without a face counts as not the same person)."""
    judged = [r for r in records if r.get("input_face_found")]
    distances = [r["identity_distance"] for r in judged]
    same = [d < SAME_PERSON_THRESHOLD for d in distances if not math.isnan(d)]
    return {
        "identity_distance_mean": _nanmean(distances),
        "identity_same_person_share": float(sum(same) / len(judged)) if judged else None,
        "identity_pairs": len(judged),
        "identity_no_face_output": sum(not r["output_face_found"] for r in judged),
        "identity_no_face_input": sum(r.get("input_face_found") is False for r in records),
    }


def _sample(items: Sequence, limit: int | None, seed: int) -> list:
    """At most ``limit`` items, a seeded random choice kept in the original order."""
    if not limit or len(items) <= limit:
        return list(items)
    chosen = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in chosen]


@contextmanager
def _timed(timings: dict[str, float], key: str):
    start = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - start


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
            lambda paths=paths, region=region: embed_files(paths, extractors[region], _feature_cache(cache, region),
                                                           f"training features ({region})"),
            seed, extra=region)
    return probes


def _feature_cache(cache: Path, region: str) -> Path:
    return cache / f"features_real_{region}.npz"


def classify_outputs(records: list[dict[str, Any]], feats_out: dict[str, np.ndarray], probes: dict[str, LinearProbe],
                     attire: str, genders: Sequence[str | None]) -> None:
    """Add each output's p(business), predicted attire and whether it matches the expected attire."""
    p_business = probes["domain"].predict_proba(feats_out[PROBES["domain"][1]])
    p_suit = probes["attire"].predict_proba(feats_out[PROBES["attire"][1]])
    for record, pb, ps, gender in zip(records, p_business, p_suit, genders, strict=True):
        predicted, want = ATTIRES[int(ps >= 0.5)], expected_attire(attire, gender)
        record.update({"gender_label": gender, "p_business": float(pb), "p_suit": float(ps),
                       "predicted_attire": predicted, "expected_attire": want,
                       "attire_match": None if want is None else predicted == want})


def evaluate_folders(generated: str | Path | None, reference: str | Path, train_casual: Sequence[str | Path],
                     train_business: Sequence[str | Path], output_dir: str | Path,
                     selfies: str | Path | None = None, model: str | None = None, attire: str = "auto",
                     limit: int | None = None, reference_limit: int | None = None, train_limit: int | None = None,
                     seed: int = 0, cache_dir: str | Path | None = None, size: int = 1024,
                     outfit: str | None = None) -> dict[str, Any]:
    """Evaluate the images in ``generated``, paired by file stem with ``selfies`` when given.

    With ``generated=None`` the selfies are first translated by the pipeline of ``model`` (None = the bundled
    default) into ``output_dir/generated``. Training images that are also being evaluated are left out of the
    probes' training. Returns the metrics.json content (see ``write_outputs``).
    """
    if generated is not None and model is not None:
        raise ValueError("Pass either generated images or a model to translate with, not both.")
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    output_dir = Path(output_dir)
    cache = Path(cache_dir) if cache_dir else output_dir / "cache"
    sources = _sample(iter_images([selfies]), limit, seed) if selfies else None
    translation: dict[str, dict[str, Any]] = {}
    if generated is None:
        if not sources:
            raise ValueError("Translating with a model needs selfies: a folder of input photos.")
        generated = output_dir / "generated"
        with _timed(timings, "translate_s"):
            translation = translate_folder(model, sources, Path(generated), attire, size, outfit)
    pairs, unmatched = pair_by_stem(iter_images([generated]), sources)
    pairs = _sample(pairs, limit, seed)
    if not pairs:
        raise ValueError(f"No images to evaluate in {generated}" + (f" matching {selfies}" if selfies else ""))
    labels = read_gender_labels(selfies if selfies else generated)

    with _timed(timings, "per_image_s"):
        records = [pair_metrics(p) for p in tqdm(pairs, desc="per-image metrics", unit="img")]
    network = _lazy(FeatureExtractor)  # one network, loaded on first use, for both regions
    extractors = {region: partial(network, region=region) for region in ("full", "torso")}
    with _timed(timings, "features_s"):
        references = _sample(iter_images([reference]), reference_limit, seed)
        feats_ref = embed_files(references, extractors["full"], _feature_cache(cache, "full"), "reference features")
        feats_out = {region: embed_files([p.output for p in pairs], extractor, None, f"output features ({region})")
                     for region, extractor in extractors.items()}
        feats_in = embed_files([p.source for p in pairs], extractors["full"], None, "input features") \
            if sources else None
    with _timed(timings, "classifiers_s"):
        exclude = {p.output.resolve() for p in pairs} | {p.source.resolve() for p in pairs if p.source}
        probes = fit_probes(train_casual, train_business, exclude, extractors, cache, train_limit, seed)
    genders = [labels.get((p.source or p.output).resolve()) for p in pairs]
    classify_outputs(records, feats_out, probes, attire, genders)
    for record in records:
        record.update({f"pipeline_{k}": v for k, v in translation.get(record["name"], {}).items()})
    with _timed(timings, "summary_s"):
        reference_background = reference_background_std(_sample(references, 100, seed), cache)
        summary = summarize(records, feats_out["full"], feats_in, feats_ref, probes, reference_background, seed)
    timings["total_s"] = time.perf_counter() - clock
    config = {"generated": str(generated), "selfies": str(selfies) if selfies else None, "model": model,
              "reference": str(reference), "attire": attire, "outfit": outfit, "limit": limit,
              "reference_limit": reference_limit,
              "train_casual": [str(p) for p in train_casual], "train_business": [str(p) for p in train_business],
              "train_limit": train_limit, "seed": seed, "unmatched_outputs": unmatched,
              "feature_network": f"ImageNet EfficientNet-Lite0, 1280-D pooled, {FEATURE_SIZE} px centre crop "
                                 "(attire probe: of the lower half)",
              "translation_failures": {k: v["error"] for k, v in translation.items() if "error" in v}}
    return {"config": config, "summary": summary, "classifiers": {k: p.info for k, p in probes.items()},
            "timings": timings, "per_image": records}


def reference_background_std(paths: Sequence[Path], cache: Path) -> float | None:
    """Mean ``background_std`` of the reference photos, cached in ``cache`` per set of files."""
    cache_file = cache / "reference_background.json"
    known = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    key = fingerprint(paths, [0] * len(paths), "background_std")
    if key not in known:
        known[key] = _nanmean(background_std(load_rgb_array(p)) for p in tqdm(paths, desc="reference background"))
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(known))
    return known[key]


def _lazy(factory: Callable[[], Callable]) -> Callable:
    """A callable that creates ``factory()`` on first use (no network is loaded when every feature is cached)."""
    holder: list[Callable] = []

    def call(*args, **kwargs):
        if not holder:
            holder.append(factory())
        return holder[0](*args, **kwargs)

    return call


def summarize(records: list[dict[str, Any]], feats_out: np.ndarray, feats_in: np.ndarray | None,
              feats_ref: np.ndarray, probes: dict[str, LinearProbe], reference_background: float | None = None,
              seed: int = 0) -> dict[str, Any]:
    """The headline numbers (flat keys, ``None`` where not measurable)."""
    kid_out = kid(feats_out, feats_ref, seed=seed)
    matches = [r["attire_match"] for r in records if r["attire_match"] is not None]
    summary: dict[str, Any] = {
        "n_outputs": len(records), "n_reference": len(feats_ref),
        "kid_effnet_lite0": kid_out["mean"], "kid_effnet_lite0_std": kid_out["std"],
        "kid_subset_size": kid_out["subset_size"], "fid_effnet_lite0": fid(feats_out, feats_ref),
        "kid_effnet_lite0_inputs": None, "kid_effnet_lite0_inputs_std": None, "fid_effnet_lite0_inputs": None,
        "background_std_mean": _nanmean(r["background_std"] for r in records),
        "background_std_reference_mean": reference_background,
        "domain_business_share": float(np.mean([r["p_business"] >= 0.5 for r in records])),
        "domain_p_business_mean": float(np.mean([r["p_business"] for r in records])),
        "domain_classifier_held_out_accuracy": probes["domain"].info["held_out"]["accuracy"],
        "attire_suit_share": float(np.mean([r["predicted_attire"] == "suit" for r in records])),
        "attire_match_share": float(np.mean(matches)) if matches else None, "attire_compared": len(matches),
        "attire_classifier_held_out_accuracy": probes["attire"].info["held_out"]["accuracy"],
        "attire_classifier_held_out_balanced_accuracy": probes["attire"].info["held_out"]["balanced_accuracy"],
    }
    if feats_in is not None:
        kid_in = kid(feats_in, feats_ref, seed=seed)
        summary.update({
            "kid_effnet_lite0_inputs": kid_in["mean"], "kid_effnet_lite0_inputs_std": kid_in["std"],
            "fid_effnet_lite0_inputs": fid(feats_in, feats_ref),
            "background_std_inputs_mean": _nanmean(r["input_background_std"] for r in records),
            "domain_business_share_inputs": float(np.mean(probes["domain"].predict_proba(feats_in) >= 0.5)),
            "face_preservation_mae_mean": _nanmean(r["face_preservation_mae"] for r in records),
            "face_preservation_failures": sum(math.isnan(r["face_preservation_mae"]) for r in records),
            **identity_summary(records),
        })
    return summary


# --- writing --------------------------------------------------------------------------------------------------------
def _clean(value: Any) -> Any:
    """NaN -> None and numpy scalars -> Python, recursively, so the JSON is standard."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def caption(record: dict[str, Any]) -> list[str]:
    """The lines written under one pair in the contact sheet."""
    lines = [record["name"]]
    if record.get("input"):
        same = record["identity_distance"] < SAME_PERSON_THRESHOLD if record.get("output_face_found") else False
        lines.append(f"id {_fmt(record['identity_distance'], 2)} ({'same' if same else 'DIFF'})"
                     f"  face {_fmt(record['face_preservation_mae'], 1)}")
    lines.append(f"bg std {_fmt(record['background_std'], 1)}  p(biz) {_fmt(record['p_business'], 2)}")
    want = f" want {record['expected_attire']}" if record.get("expected_attire") else ""
    lines.append(f"{record['predicted_attire']} p={_fmt(record['p_suit'], 2)}{want}")
    return lines


SHEET_LIMIT = 96  # pairs shown in the contact sheet


def contact_sheet(records: list[dict[str, Any]], tile: int = 192, columns: int = 4,
                  limit: int = SHEET_LIMIT) -> Image.Image:
    """Input | output per cell (output only when inputs are unknown), the per-image metrics written under it."""
    font = ImageFont.load_default(size=12)
    cells = []
    for record in records[:limit]:
        paths = [record["input"], record["output"]] if record.get("input") else [record["output"]]
        lines = caption(record)
        cell = Image.new("RGB", (2 * tile, tile + 14 * len(lines) + 4), "white")
        for i, path in enumerate(paths):
            cell.paste(fitted_tile(path, tile), (i * tile, 0))
        draw = ImageDraw.Draw(cell)
        for i, line in enumerate(lines):
            draw.text((4, tile + 2 + 14 * i), line, fill=(0, 0, 0), font=font)
        cells.append(cell)
    height = max(c.height for c in cells)
    padded = [Image.new("RGB", (2 * tile, height), "white") for _ in cells]
    for canvas, cell in zip(padded, cells, strict=True):
        canvas.paste(cell, (0, 0))
    return image_grid(padded, min(columns, len(padded)))


REPORT_ROWS = (
    ("kid_effnet_lite0", "KID (EfficientNet-Lite0 features), outputs vs reference", 4),
    ("kid_effnet_lite0_inputs", "KID, inputs vs reference (before translation)", 4),
    ("fid_effnet_lite0", "FID-style Fréchet distance (EfficientNet-Lite0), outputs vs reference", 2),
    ("fid_effnet_lite0_inputs", "Fréchet distance, inputs vs reference", 2),
    ("identity_distance_mean", "Identity: mean dlib embedding distance input-output (lower is better)", 3),
    ("identity_same_person_share", "Identity: share of pairs under 0.6 (same person)", 3),
    ("identity_no_face_output", "Identity: outputs without a detectable face", 0),
    ("face_preservation_mae_mean", "Face preservation: mean abs. difference in the face, 0-255", 2),
    ("background_std_mean", "Background std (0-255), outputs (lower = more uniform)", 2),
    ("background_std_inputs_mean", "Background std, inputs", 2),
    ("background_std_reference_mean", "Background std, reference sample (<= 100 images)", 2),
    ("domain_business_share", "Domain: share of outputs called business", 3),
    ("domain_business_share_inputs", "Domain: share of inputs called business", 3),
    ("domain_classifier_held_out_accuracy", "Domain classifier held-out accuracy (real photos)", 3),
    ("attire_suit_share", "Attire: share of outputs called suit", 3),
    ("attire_match_share", "Attire: share matching the requested / gender-implied attire", 3),
    ("attire_classifier_held_out_balanced_accuracy", "Attire classifier held-out balanced accuracy", 3),
)


def report_markdown(result: dict[str, Any]) -> str:
    summary, config = result["summary"], result["config"]
    kid_std = summary.get("kid_effnet_lite0_std")
    lines = [
        "# Evaluation report", "",
        f"Outputs: `{config['model'] or config['generated']}` ({summary['n_outputs']} images"
        + (f", paired with `{config['selfies']}`" if config["selfies"] else "") + f"); reference: "
        f"`{config['reference']}` ({summary['n_reference']} images); attire: {config['attire']}.", "",
        "| metric | value |", "|---|---|",
    ]
    for key, label, digits in REPORT_ROWS:
        if summary.get(key) is not None:
            value = _fmt(summary[key], digits)
            if key == "kid_effnet_lite0" and kid_std is not None:
                value += f" ± {_fmt(kid_std, 4)}"
            lines.append(f"| {label} | {value} |")
    lines += [
        "", "## How to read this", "",
        "- **Not Inception FID/KID.** Both distances use the 1280-D pooled features of the ImageNet "
        f"EfficientNet-Lite0 (centre square crop, {FEATURE_SIZE} px), so they are comparable between runs of this "
        "script only, not with published FID/KID numbers. KID is the unbiased polynomial-kernel MMD² of Binkowski "
        f"et al., mean ± std over 100 subsets of {summary['kid_subset_size']} images. The Fréchet distance is biased "
        "upwards for small sets (fewer images than feature dimensions): compare it only at equal set sizes.",
        "- **Identity** uses dlib's face embedding (distance < 0.6 = same person). An output where no face is found "
        "counts as not the same person and is left out of the mean distance.",
        "- **Face preservation** re-detects the face in the input and in the output, aligns each to the canonical "
        "256 px crop with its own landmarks and averages |input - output| inside the input's face mask.",
        "- **Background std** is measured on the image shrunk to 256 px, where mediapipe's person mask < 0.5 and "
        "at least 4 px from the person. A smooth gradient backdrop is not 0.",
        "- **Domain and attire** are logistic-regression probes on the same features, trained on real photos "
        "(files being evaluated are left out of their training; accuracies are on held-out real photos). The "
        "attire probe (suit vs blazer, from labelled business portraits: men -> suit, women -> blazer, classes "
        "balanced) sees only the lower half of each image, the clothes; on the whole image it learnt gender instead. "
        "It knows only these two classes, so on casual clothes it mostly answers blazer: read its numbers next to "
        "the real-photo baseline.", "",
        f"Wall time: {result['timings']['total_s']:.0f} s.", "",
    ]
    return "\n".join(lines)


def write_outputs(result: dict[str, Any], output_dir: str | Path, sheet_name: str = "contact_sheet.png") -> dict:
    """metrics.json, report.md and the contact sheet in ``output_dir``; returns their paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": output_dir / "metrics.json", "report": output_dir / "report.md",
             "sheet": output_dir / sheet_name}
    paths["metrics"].write_text(json.dumps(_clean(result), indent=2), encoding="utf-8")
    shown = min(len(result["per_image"]), SHEET_LIMIT)
    sheet_note = f"\nContact sheet: the first {shown} of {len(result['per_image'])} images (input | output).\n"
    paths["report"].write_text(report_markdown(result) + sheet_note + f"\n![contact sheet]({sheet_name})\n",
                               encoding="utf-8")
    contact_sheet(result["per_image"]).save(paths["sheet"])
    return paths
