"""The finisher against the classical blend on the re-composite test (issue 12, pilot gate of item 4).

    python scripts/evaluate_finisher.py --finisher runs/finisher-pilot --photos 20 --output runs/finisher-pilot/eval

Held-out real portraits (the fixed KID reference from ``uk-parliament``: never used for outfits nor for the clothes
probe, without the wiki/us-congress near-duplicates; ``--exclude_trained`` also leaves out every photo of the
warm-start data, as the reference is re-drawn when the calibration is re-run), each altered
(exposure, white balance, blur, JPEG) and its own outfit fitted back by the pipeline (``evaluation.recomposite``):
the Lab error in the chin-to-collar band against the altered original, for the pipeline's output (the classical
blend) and for the same output finished. The pipeline runs once per altered photo; both are measured on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from cyclegan_biz.evaluation import recomposite
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--finisher", type=Path, required=True, help="a saved CycleBizFinisher (train_finisher.py)")
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--source", default="uk-parliament", help="held-out portraits of this source only")
    parser.add_argument("--size", type=int, default=512, help="headshot size")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--exclude_trained", type=Path, nargs="*", default=[],
                        help="warm-start data folders: leave out the photos they were built from (manifests)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)

    from cyclegan_biz import SelfieToBusinessPipeline
    from cyclegan_biz.models import CycleBizFinisher
    from cyclegan_biz.vision.landmarks import detect_face
    from cyclegan_biz.wardrobe.finishing import finish

    pipe = SelfieToBusinessPipeline.from_pretrained()
    model = CycleBizFinisher.from_pretrained(args.finisher).eval()
    trained = set().union(*(trained_photos(folder) for folder in args.exclude_trained))
    photos = [p for p in kid_reference_files(args.datasets)
              if f"/{args.source}/" in p.as_posix() and example_name(p) not in trained][: args.photos]
    outputs: dict[str, tuple] = {}

    def fitted(given: np.ndarray, outfit: str):
        key = hashlib.sha1(given.tobytes() + str(given.shape).encode() + outfit.encode()).hexdigest()
        if key not in outputs:
            result = pipe(given, outfit=outfit, size=args.size)
            image = np.asarray(result.image)
            started = time.perf_counter()
            finished = finish(model, image, detect_face(image, min_face_size=0), result.person_mask)
            outputs[key] = (result.framing, image, finished, time.perf_counter() - started)
        return outputs[key]

    def classical(given, outfit):
        framing, image, _, _ = fitted(given, outfit)
        return SimpleNamespace(image=image, framing=framing)

    def finished(given, outfit):
        framing, _, image, _ = fitted(given, outfit)
        return SimpleNamespace(image=image, framing=framing)

    report = {}
    for name, fit in (("classical", classical), ("finisher", finished)):
        records = [r for photo in photos for r in recomposite.recomposite(photo, fit)]
        report[name] = {"summary": recomposite.summarize(records), "records": records}
    drops = {}
    for key, value in report["classical"]["summary"].items():
        other = report["finisher"]["summary"].get(key)
        if key.endswith("delta_e") and value and other is not None:
            drops[key] = round(1 - other / value, 4)
    report["relative_drop"] = drops
    report["paired"] = paired_summary(report["classical"]["records"], report["finisher"]["records"])
    report["finish_seconds_mean"] = float(np.mean([o[3] for o in outputs.values()])) if outputs else None
    report["photos"] = [str(p) for p in photos]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "recomposite_finisher.json").write_text(json.dumps(report, indent=2, default=float))
    print(json.dumps({"classical": report["classical"]["summary"], "finisher": report["finisher"]["summary"],
                      "relative_drop": drops, "paired": report["paired"],
                      "finish_seconds_mean": report["finish_seconds_mean"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
