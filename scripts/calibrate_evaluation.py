"""Fit the clothes probe and measure the real-portrait ranges of the outfit measurements (reproducible, offline).

    python scripts/calibrate_evaluation.py --datasets ../shared/datasets --cache .cache/calibration

Writes ``cyclegan_biz/evaluation/data/clothes_probe.safetensors`` and ``real_ranges.json`` and prints the probe's
scores on held-out real photos. What it uses:

* business portraits for the probe and the fixed KID reference: ``us-congress`` and ``uk-parliament`` only, never
  ``us-congress-wiki`` (the main outfit source), without the photos of shipped outfits (read from the wardrobe when
  it is installed, or ``--exclude``), and without near-duplicates of any of those (the same photo in another set:
  correlation of the grey face-aligned crops above the highest UK-vs-US correlation, which cannot be the same
  photo). 20 % of them (seeded) are held out: the probe's test set and the KID reference. ``us-congress-wiki`` is
  scored as an out-of-source business test;
* casual photos: ``casual/`` (pixabay, web-portraits), 80/20 split; only photos whose clothes box is mostly inside the
  photo train or test the probe (as for business);
* seam thresholds and the sharpness range: every business portrait (any source) with a measurable neck.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import accuracy_score, balanced_accuracy_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from cyclegan_biz.errors import CycleBizError  # noqa: E402
from cyclegan_biz.evaluation.clothes_probe import embed_regions, fit_clothes_probe  # noqa: E402
from cyclegan_biz.evaluation.outfit_metrics import judged, measure_portrait  # noqa: E402
from cyclegan_biz.evaluation.portrait import Portrait  # noqa: E402
from cyclegan_biz.evaluation.references import PROBE_FILE, RANGES_FILE  # noqa: E402
from cyclegan_biz.evaluation.seams import joint_thresholds  # noqa: E402
from cyclegan_biz.imageio import load_rgb_array  # noqa: E402

PROBE_SOURCES = ("us-congress", "uk-parliament")
OUTFIT_SOURCE = "us-congress-wiki"
SCALARS = ("seam_row_ratio", "skin_delta_ab", "sharpness_ratio", "clothes_coverage", "clothes_person_share")
THUMB = 48
FACE_ROWS, FACE_COLS = slice(8, 44), slice(10, 38)  # the face inside the 48 px aligned thumbnail


def face_thumbnail(portrait: Portrait) -> np.ndarray:
    """The face-aligned crop, grey, 48 px: the same photo, re-cropped or re-encoded, gives almost the same one."""
    grey = cv2.cvtColor(portrait.crop(), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def measure_all(names: list[str], datasets: Path, cache: Path) -> dict[str, dict]:
    """Measurements of each file (``names`` relative to ``datasets``), cached per file in ``cache/measured.npz``."""
    cache_file = cache / "measured.npz"
    known: dict[str, dict] = {}
    if cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}  # each stored[key] reads the whole array again
        for i, name in enumerate(arrays["names"].tolist()):
            known[name] = {"region": arrays["regions"][i].copy(), "thumb": arrays["thumbs"][i].copy(),
                           **{k: float(arrays[k][i]) for k in SCALARS}} if arrays["ok"][i] else {"error": True}
    for name in tqdm([n for n in names if n not in known], desc="measuring", unit="img"):
        try:
            portrait = Portrait.from_rgb(load_rgb_array(datasets / name, max_side=None))
        except CycleBizError:
            known[name] = {"error": True}
            continue
        known[name] = {**measure_portrait(portrait), "thumb": face_thumbnail(portrait)}
    ok = [n for n in known if "error" not in known[n]]
    blank = next(iter(known[n] for n in ok))
    rows = [known[n] if "error" not in known[n] else None for n in known]
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(cache_file, names=np.array(list(known)), ok=np.array([r is not None for r in rows]),
             regions=np.stack([(r or blank)["region"] for r in rows]),
             thumbs=np.stack([(r or blank)["thumb"] for r in rows]),
             **{k: np.array([(r or blank)[k] for r in rows]) for k in SCALARS})
    return known


def list_files(datasets: Path, top: str, prefix: str = "") -> list[str]:
    """Files listed in ``datasets/top/metadata.csv`` whose name starts with ``prefix``, as ``top/name``."""
    import csv

    with (datasets / top / "metadata.csv").open(newline="", encoding="utf-8") as handle:
        return sorted(f"{top}/{row['file_name']}" for row in csv.DictReader(handle)
                      if row["file_name"].startswith(prefix))


def outfit_files(exclude: Path | None) -> set[str]:
    """Photos shipped as outfits: ``--exclude`` (one name per line, e.g. ``business/us-congress/A000022.jpg``), and
    the installed wardrobe's sources when there is one."""
    names = set(exclude.read_text().split()) if exclude else set()
    try:
        from cyclegan_biz.wardrobe.catalogue import load_wardrobe  # the wardrobe branch; absent before it merges
    except ImportError:
        return names
    return names | {f"business/{outfit.file}".replace("business/business/", "business/") for outfit in load_wardrobe()}


def _normalised(measured: dict[str, dict], names: list[str]) -> np.ndarray:
    """Fine detail (grey minus its blur) of the middle of the face, unit norm: the same photo correlates near 1
    even with another backdrop or colour grade; a different photo of the same person much less."""
    def detail(thumb: np.ndarray) -> np.ndarray:
        grey = thumb.astype(np.float64)
        return (grey - cv2.GaussianBlur(grey, (0, 0), 2.0))[FACE_ROWS, FACE_COLS].ravel()

    table = np.stack([detail(measured[n]["thumb"]) for n in names])
    table -= table.mean(axis=1, keepdims=True)
    return table / (np.linalg.norm(table, axis=1, keepdims=True) + 1e-9)


def best_match(candidates: list[str], others: list[str], measured: dict[str, dict]) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate: the highest correlation of its face thumbnail with an other's, and that other's index."""
    correlation = _normalised(measured, candidates) @ _normalised(measured, others).T
    return correlation.max(axis=1), correlation.argmax(axis=1)


def near_duplicates(candidates: list[str], others: list[str], measured: dict[str, dict],
                    null: list[str]) -> tuple[dict[str, str], float]:
    """``{candidate: other}`` for candidates that are the same photo as an other, and the correlation threshold.

    The threshold is the highest correlation between ``null`` photos (that cannot be the same photos as the others,
    e.g. UK portraits against US ones) and the others: anything above it is a duplicate, not a lookalike."""
    candidates = [n for n in candidates if "thumb" in measured[n]]
    others = [n for n in others if "thumb" in measured[n]]
    threshold = float(best_match([n for n in null if "thumb" in measured[n]], others, measured)[0].max())
    scores, index = best_match(candidates, others, measured)
    return {n: others[i] for n, s, i in zip(candidates, scores, index, strict=True) if s > threshold}, threshold


def share_business(probe, names: list[str], measured: dict[str, dict]) -> dict:
    """Share called business among ``names`` (all with a face), and among those whose clothes can be judged."""
    found = [n for n in names if "error" not in measured[n]]
    if not found:
        return {"n": 0}
    p = probe.predict_proba(embed_regions([measured[n]["region"] for n in found]))
    ok = np.array([judged(measured[n]) for n in found])
    return {"n": len(found), "n_judged": int(ok.sum()),
            "clothes_business_share": float(np.mean((p >= 0.5) & ok)),
            "business_share_of_judged": float(np.mean(p[ok] >= 0.5)) if ok.any() else None,
            "p_business_mean": float(p.mean())}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--cache", type=Path, default=Path(".cache/calibration"))
    parser.add_argument("--exclude", type=Path, help="file listing outfit source photos to keep out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    datasets = args.datasets
    business = {src: list_files(datasets, "business", f"{src}/") for src in (*PROBE_SOURCES, OUTFIT_SOURCE)}
    casual = list_files(datasets, "casual")
    canada = list_files(datasets, "eval", "canada/")
    everything = [n for names in business.values() for n in names] + casual + canada
    measured = measure_all(everything, datasets, args.cache)

    # Business photos for the probe and the KID reference: not outfits, not the same photo as any outfit source.
    outfits = outfit_files(args.exclude)
    candidates = [n for src in PROBE_SOURCES for n in business[src] if n not in outfits]
    sources_of_outfits = business[OUTFIT_SOURCE] + sorted(outfits)
    duplicates, duplicate_threshold = near_duplicates(
        [n for n in candidates if n.startswith("business/us-congress/")], sources_of_outfits, measured,
        null=[n for n in candidates if n.startswith("business/uk-parliament/")])
    pool_business = [n for n in candidates if n not in duplicates and "error" not in measured[n]]
    pool_casual = [n for n in casual if "error" not in measured[n]]
    names = pool_business + pool_casual
    labels = np.array([1] * len(pool_business) + [0] * len(pool_casual))
    train, test = (np.sort(part) for part in train_test_split(np.arange(len(labels)), test_size=0.2,
                                                              random_state=args.seed, stratify=labels))
    usable = np.array([judged(measured[n]) for n in names])
    fit_rows = train[usable[train]]
    features = embed_regions([measured[names[i]]["region"] for i in fit_rows])
    probe = fit_clothes_probe(features, labels[fit_rows], seed=args.seed)
    held = test[usable[test]]
    predicted = probe.predict(embed_regions([measured[names[i]]["region"] for i in held]))
    held_scores = {"accuracy": float(accuracy_score(labels[held], predicted)),
                   "balanced_accuracy": float(balanced_accuracy_score(labels[held], predicted))}
    test_business = [names[i] for i in test if labels[i] == 1]
    test_casual = [names[i] for i in test if labels[i] == 0]
    scores = {
        "held_out_judged": {**held_scores, "n": int(len(held))},
        "business_held_out": share_business(probe, test_business, measured),
        "casual_held_out": share_business(probe, test_casual, measured),
        "us_congress_wiki_out_of_source": share_business(probe, business[OUTFIT_SOURCE], measured),
        "eval_canada_originals": share_business(probe, canada, measured),
    }
    probe.info.update({"held_out": held_scores, "scores": scores, "seed": args.seed,
                       "n_train": {"casual": int((labels[fit_rows] == 0).sum()),
                                   "business": int((labels[fit_rows] == 1).sum())},
                       "trained_on": [names[i] for i in fit_rows], "excluded_outfits": sorted(outfits),
                       "near_duplicates_dropped": duplicates,
                       "near_duplicate_correlation_threshold": duplicate_threshold})
    probe.save(PROBE_FILE)

    real = [n for names_ in business.values() for n in names_ if "error" not in measured[n]]
    seam_values = {k: np.array([measured[n][k] for n in real]) for k in ("seam_row_ratio", "skin_delta_ab")}
    thresholds = joint_thresholds(seam_values, 0.95)
    sharp = np.array([measured[n]["sharpness_ratio"] for n in real])
    sharp = sharp[np.isfinite(sharp)]
    ranges = {
        "seam": {"thresholds": thresholds, "target_share": 0.95, "n": int(np.isfinite(
            np.stack(list(seam_values.values()), 1)).all(1).sum()), "measured_on": "business/* (all sources)"},
        "sharpness": {"range": [float(np.percentile(sharp, 5)), float(np.percentile(sharp, 95))],
                      "percentiles": [5, 95], "median": float(np.median(sharp)), "n": int(len(sharp))},
        "kid_reference": test_business,
        "casual_held_out": test_casual,  # casual photos the probe never saw: evaluate casual inputs from these
        "probe_scores": scores,
        "how": f"scripts/calibrate_evaluation.py --seed {args.seed}",
    }
    RANGES_FILE.write_text(json.dumps(ranges, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"duplicates_dropped": len(duplicates), "duplicate_threshold": duplicate_threshold,
                      "n_train": probe.info["n_train"], "scores": scores,
                      "seam_thresholds": thresholds, "sharpness": ranges["sharpness"]}, indent=1))


if __name__ == "__main__":
    main()
