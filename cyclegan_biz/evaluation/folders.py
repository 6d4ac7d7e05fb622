"""``evaluate_folders``: every measurement on a folder of outputs (and their inputs, paired by file stem), against a
folder of real business photos. Folder defaults live in ``scripts/evaluate.py`` only."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..imageio import load_rgb_array
from ..sources import iter_images, scan_folder
from .appearance import background_std, face_core_error, face_preservation_error
from .distances import fid, kid
from .features import FEATURE_SIZE, REGIONS, FeatureExtractor, embed_files, fingerprint, lazy
from .identity import identity, identity_summary, nanmean
from .outfit_metrics import add_outfit_metrics
from .probes import LinearProbe, classify_outputs, feature_cache, fit_probes


@dataclass
class Pair:
    name: str
    output: Path
    source: Path | None = None  # the input selfie, when known


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


def pair_by_stem(outputs: Sequence[Path], sources: Sequence[Path] | None) -> tuple[list[Pair], list[str]]:
    """Each output with the input of the same file stem; returns (pairs, stems of outputs without an input)."""
    if sources is None:
        return [Pair(p.stem, p) for p in outputs], []
    by_stem: dict[str, Path] = {}
    for path in sources:
        by_stem.setdefault(path.stem, path)
    pairs = [Pair(p.stem, p, by_stem[p.stem]) for p in outputs if p.stem in by_stem]
    return pairs, [p.stem for p in outputs if p.stem not in by_stem]


def translate_folder(model: str | None, sources: Sequence[Path], output_dir: Path, attire: str = "auto",
                     size: int = 1024, outfit: str | None = None) -> dict[str, dict[str, Any]]:
    """Run ``SelfieToBusinessPipeline`` on each selfie, saving ``output_dir/<stem>.png`` (``batch.convert_files``;
    ``outfit``: passed on when given).

    Returns ``{stem: {"attire", "attire_confidence", "seconds", "framing"} or {"error"}}`` (``framing``: the
    photo -> output matrix).
    """
    from ..batch import convert_files
    from ..pipeline import SelfieToBusinessPipeline

    pairs = [(path, output_dir / f"{path.stem}.png") for path in sources]
    for _, target in pairs:
        target.unlink(missing_ok=True)  # never evaluate a previous run's output
    results = convert_files(lambda: SelfieToBusinessPipeline.from_pretrained(model), pairs,
                            {"attire": attire, "size": size, **({"outfit": outfit} if outfit else {})},
                            overwrite=True, report=tqdm.write)
    return {Path(r["input"]).stem: {"attire": r["attire"], "attire_confidence": r["attire_confidence"],
                                    "seconds": sum(r["timings"].values()), "framing": r["framing"]} if r["ok"]
            else {"error": f"{r['error_type']}: {r['error']}"} for r in results}


def pair_metrics(pair: Pair, framing: list | None = None) -> dict[str, Any]:
    """Identity, face preservation and background uniformity of one output (and its input, when known); the face
    core error too when the pipeline's ``framing`` (photo -> output matrix) is known."""
    output = load_rgb_array(pair.output)
    record: dict[str, Any] = {"name": pair.name, "output": str(pair.output),
                              "input": str(pair.source) if pair.source else None,
                              "background_std": background_std(output)}
    if pair.source is not None:
        source = load_rgb_array(pair.source)
        record.update(identity(source, output))
        record["face_preservation_mae"] = face_preservation_error(source, output)
        if framing is not None:
            record["face_core_error"] = face_core_error(pair.source, output, np.asarray(framing))
        record["input_background_std"] = background_std(source)
    return record


def sample(items: Sequence, limit: int | None, seed: int) -> list:
    """At most ``limit`` items, a seeded random choice kept in the original order."""
    if not limit or len(items) <= limit:
        return list(items)
    chosen = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in chosen]


@contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - start


def evaluate_folders(generated: str | Path | None, reference: str | Path, train_casual: Sequence[str | Path],
                     train_business: Sequence[str | Path], output_dir: str | Path,
                     selfies: str | Path | None = None, model: str | None = None, attire: str = "auto",
                     limit: int | None = None, reference_limit: int | None = None, train_limit: int | None = None,
                     seed: int = 0, cache_dir: str | Path | None = None, size: int = 1024,
                     outfit: str | None = None, datasets: str | Path | None = None) -> dict[str, Any]:
    """Evaluate the images in ``generated``, paired by file stem with ``selfies`` when given.

    With ``generated=None`` the selfies are first translated by the pipeline of ``model`` (None = the bundled
    default) into ``output_dir/generated``. Training images that are also being evaluated are left out of the
    probes' training. With ``datasets`` (the folder holding ``business/``) the outfit measurements are added
    (``outfit_metrics.add_outfit_metrics``), their fixed-reference KID on the output features computed here.
    Returns the metrics.json content (see ``report.write_outputs``).
    """
    if generated is not None and model is not None:
        raise ValueError("Pass either generated images or a model to translate with, not both.")
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    output_dir = Path(output_dir)
    cache = Path(cache_dir) if cache_dir else output_dir / "cache"
    sources = sample(iter_images([selfies]), limit, seed) if selfies else None
    translation: dict[str, dict[str, Any]] = {}
    if generated is None:
        if not sources:
            raise ValueError("Translating with a model needs selfies: a folder of input photos.")
        generated = output_dir / "generated"
        with _timed(timings, "translate_s"):
            translation = translate_folder(model, sources, Path(generated), attire, size, outfit)
    pairs, unmatched = pair_by_stem(iter_images([generated]), sources)
    pairs = sample(pairs, limit, seed)
    if not pairs:
        raise ValueError(f"No images to evaluate in {generated}" + (f" matching {selfies}" if selfies else ""))
    labels = read_gender_labels(selfies if selfies else generated)

    with _timed(timings, "per_image_s"):
        records = [pair_metrics(p, translation.get(p.name, {}).get("framing"))
                   for p in tqdm(pairs, desc="per-image metrics", unit="img")]
    network = lazy(FeatureExtractor)  # one network, loaded on first use, for both regions
    extractors = {region: partial(network, region=region) for region in REGIONS}
    with _timed(timings, "features_s"):
        references = sample(iter_images([reference]), reference_limit, seed)
        feats_ref = embed_files(references, extractors["full"], feature_cache(cache, "full"), "reference features")
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
        reference_background = reference_background_std(sample(references, 100, seed), cache)
        summary = summarize(records, feats_out["full"], feats_in, feats_ref, probes, reference_background, seed)
    config = {"generated": str(generated), "selfies": str(selfies) if selfies else None, "model": model,
              "reference": str(reference), "attire": attire, "outfit": outfit, "limit": limit,
              "reference_limit": reference_limit,
              "train_casual": [str(p) for p in train_casual], "train_business": [str(p) for p in train_business],
              "train_limit": train_limit, "seed": seed, "unmatched_outputs": unmatched,
              "feature_network": f"ImageNet EfficientNet-Lite0, 1280-D pooled, {FEATURE_SIZE} px centre crop "
                                 "(attire probe: of the lower half)",
              "translation_failures": {k: v["error"] for k, v in translation.items() if "error" in v}}
    result = {"config": config, "summary": summary, "classifiers": {k: p.info for k, p in probes.items()},
              "timings": timings, "per_image": records}
    if datasets is not None:
        with _timed(timings, "outfit_metrics_s"):
            add_outfit_metrics(result, datasets, cache, feats_out["full"])
    timings["total_s"] = time.perf_counter() - clock
    return result


def reference_background_std(paths: Sequence[Path], cache: Path) -> float | None:
    """Mean ``background_std`` of the reference photos, cached in ``cache`` per set of files."""
    cache_file = cache / "reference_background.json"
    known = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    key = fingerprint(paths, [0] * len(paths), "background_std")
    if key not in known:
        known[key] = nanmean(background_std(load_rgb_array(p)) for p in tqdm(paths, desc="reference background"))
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(known))
    return known[key]


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
        "background_std_mean": nanmean(r["background_std"] for r in records),
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
            "background_std_inputs_mean": nanmean(r["input_background_std"] for r in records),
            "domain_business_share_inputs": float(np.mean(probes["domain"].predict_proba(feats_in) >= 0.5)),
            "face_preservation_mae_mean": nanmean(r["face_preservation_mae"] for r in records),
            "face_preservation_failures": sum(math.isnan(r["face_preservation_mae"]) for r in records),
            "face_core_error_mean": nanmean(r.get("face_core_error", math.nan) for r in records),
            **identity_summary(records),
        })
    return summary
