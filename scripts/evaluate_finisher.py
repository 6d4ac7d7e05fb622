"""Finishers against the classical blend (issue 12): the re-composite test, and whether the outfit is kept.

    python scripts/evaluate_finisher.py --finisher warm=runs/finisher-warm gan=runs/finisher-gan --photos 20 \
        --selfies ../shared/datasets/eval/canada --output runs/finisher-eval

Held-out real portraits (the fixed KID reference from ``uk-parliament``: never used for outfits nor for the clothes
probe, without the wiki/us-congress near-duplicates; ``--exclude_trained`` also leaves out every photo of the
warm-start data, as the reference is re-drawn when the calibration is re-run), each altered
(exposure, white balance, blur, JPEG) and its own outfit fitted back by the pipeline (``evaluation.recomposite``):
the Lab error in the chin-to-collar band against the altered original, for the pipeline without a finisher (the
classical blend) and with each finisher (``SelfieToBusinessPipeline.from_pretrained(finisher=...)``).

With ``--selfies``, the outfit-kept check (``evaluation.outfit_kept``): each selfie's headshot with each finisher,
and whether its requested outfit is still the nearest of all wardrobe outfits of that attire (fitted classically).
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from cyclegan_biz.evaluation import recomposite
from cyclegan_biz.evaluation.outfit_kept import kept_share
from cyclegan_biz.evaluation.references import kid_reference_files
from cyclegan_biz.training.finisher_data import example_name

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def per_photo(records: list[dict], variant: str) -> dict[str, float]:
    """Mean band ΔE of each photo over its alterations, for one variant (failed or empty fits left out)."""
    values: dict[str, list[float]] = {}
    for r in records:
        if r["variant"] == variant and np.isfinite(r.get("band_delta_e", np.nan)):
            values.setdefault(r["photo"], []).append(r["band_delta_e"])
    return {photo: float(np.mean(v)) for photo, v in values.items()}


def paired_summary(classical: list[dict], finished: list[dict], seed: int = 0) -> dict[str, dict]:
    """Per variant: photos, how many the finisher improved, the relative drop of the mean and its 95 % bootstrap
    interval over photos (the photos are the unit: their alterations are not independent)."""
    rng = np.random.default_rng(seed)
    out = {}
    for variant in recomposite.VARIANTS:
        before, after = per_photo(classical, variant), per_photo(finished, variant)
        photos = sorted(set(before) & set(after))
        if not photos:
            continue
        b, a = np.array([before[p] for p in photos]), np.array([after[p] for p in photos])
        draws = rng.integers(0, len(photos), (2000, len(photos)))
        boot = 1 - a[draws].mean(axis=1) / b[draws].mean(axis=1)
        out[variant] = {"photos": len(photos), "improved": int((a < b).sum()), "drop": float(1 - a.mean() / b.mean()),
                        "drop_ci95": [float(v) for v in np.percentile(boot, [2.5, 97.5])]}
    return out


def trained_photos(folder: Path) -> set[str]:
    """The example names of the photos a warm-start folder holds pairs of (``build_finisher_data.py`` manifest)."""
    lines = (folder / "manifest.jsonl").read_text().splitlines()
    return {row["name"] for row in map(json.loads, lines) if row.get("files")}


def recomposite_records(pipe, photos: list[Path], size: int) -> list[dict]:
    fit = partial(pipe, size=size)
    return [record for photo in photos for record in recomposite.recomposite(photo, fit)]


def outfit_kept_records(pipe, classical_layout, selfies: list[Path], size: int) -> list[dict]:
    """Per selfie: the finished headshot's outfit against all classical fits of its attire (``classical_layout(selfie,
    outfit_id)``: cached across finishers)."""
    from cyclegan_biz.evaluation.outfit_kept import outfit_kept
    from cyclegan_biz.wardrobe.catalogue import load_wardrobe

    records = []
    for selfie in tqdm(selfies, desc="outfit kept", unit="photo"):
        result = pipe(selfie, size=size)
        candidates = [o.id for o in load_wardrobe() if o.attire == result.attire]
        requested = result.outfit if result.outfit in candidates else candidates[0]
        layout = partial(classical_layout, selfie, requested=result.outfit)
        records.append({"photo": selfie.name, **outfit_kept(np.asarray(result.image), requested, layout, candidates)})
    return records


def cached_classical_layouts(classical, size: int):
    """``layout(selfie, outfit_id, requested)``: the clothes layout (``outfit_kept.clothes_layout``) of the classical
    headshot of ``selfie`` in that outfit (the requested one as the pipeline chose it, perhaps mirrored),
    remembered across finishers."""
    from cyclegan_biz.evaluation.outfit_kept import clothes_layout

    cache: dict[tuple[str, str], np.ndarray] = {}

    def layout(selfie: Path, outfit_id: str, requested: str) -> np.ndarray:
        key = (str(selfie), outfit_id)
        if key not in cache:
            options = {} if outfit_id == requested else {"outfit": outfit_id}
            cache[key] = clothes_layout(np.asarray(classical(selfie, size=size, **options).image))
        return cache[key]

    return layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--finisher", nargs="+", required=True, metavar="NAME=FOLDER",
                        help="saved CycleBizFinishers (train_finisher.py output folders)")
    parser.add_argument("--photos", type=int, default=20, help="held-out portraits for the re-composite test")
    parser.add_argument("--source", default="uk-parliament", help="held-out portraits of this source only")
    parser.add_argument("--size", type=int, default=512, help="headshot size")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--exclude_trained", type=Path, nargs="*", default=[],
                        help="warm-start data folders: leave out the photos they were built from (manifests)")
    parser.add_argument("--selfies", type=Path, nargs="*", default=[], help="photos for the outfit-kept check")
    parser.add_argument("--kept_size", type=int, default=256, help="headshot size of the outfit-kept check")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)

    from cyclegan_biz import SelfieToBusinessPipeline
    from cyclegan_biz.sources import iter_images

    finishers = dict(item.split("=", 1) for item in args.finisher)
    classical = SelfieToBusinessPipeline.from_pretrained(finisher=False)
    classical_layout = cached_classical_layouts(classical, args.kept_size)
    trained = set().union(*(trained_photos(folder) for folder in args.exclude_trained))
    photos = [p for p in kid_reference_files(args.datasets)
              if f"/{args.source}/" in p.as_posix() and example_name(p) not in trained][: args.photos]
    selfies = list(iter_images(args.selfies)) if args.selfies else []
    report: dict = {"photos": [str(p) for p in photos], "selfies": len(selfies)}
    base = recomposite_records(classical, photos, args.size)
    report["classical"] = {"summary": recomposite.summarize(base)}
    for name, folder in finishers.items():
        pipe = SelfieToBusinessPipeline.from_pretrained(finisher=folder)
        records = recomposite_records(pipe, photos, args.size)
        summary = recomposite.summarize(records)
        drops = {key: round(1 - summary[key] / value, 4) for key, value in report["classical"]["summary"].items()
                 if key.endswith("delta_e") and value and summary.get(key) is not None}
        entry = {"summary": summary, "relative_drop": drops, "paired": paired_summary(base, records)}
        if selfies:
            kept = outfit_kept_records(pipe, classical_layout, selfies, args.kept_size)
            entry["outfit_kept_share"] = kept_share(kept)
            entry["outfit_kept"] = kept
        report[name] = entry
        print(name, json.dumps({k: v for k, v in entry.items() if k != "outfit_kept"}, default=float))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "finishers.json").write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
