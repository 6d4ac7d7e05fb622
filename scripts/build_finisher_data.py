"""Build the finisher's training examples (issue 12) under data/ (git-ignored), resumable.

    python scripts/build_finisher_data.py warm-start --output data/finisher-warmstart-128   # real portraits, pairs
    python scripts/build_finisher_data.py composites --output data/finisher-casual-128      # domain A: casual + outfit
    python scripts/build_finisher_data.py portraits --output data/finisher-business-128     # domain B: real portraits

Warm-start pairs come from business portraits no shipped outfit was cut from, minus the held-out evaluation
portraits (the fixed KID reference, ``evaluation/data/real_ranges.json``), so the re-composite test stays unseen;
composites come from casual photos minus the casual test split.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cyclegan_biz.evaluation.references import real_ranges
from cyclegan_biz.sources import scan_folder
from cyclegan_biz.training.finisher_data import (
    build_examples,
    casual_composite,
    gender_name,
    photo_items,
    portrait_example,
    portraits_not_in_outfits,
    warm_start_samples,
)

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def held_out_portraits() -> list[str]:
    """The evaluation portraits, relative to the business folder."""
    return [name.removeprefix("business/") for name in real_ranges()["kid_reference"]]


def casual_training_photos(casual: Path) -> list[tuple[Path, str | None]]:
    """Casual photos minus the casual test split (``casual_held_out``), so the finisher is evaluated on unseen ones."""
    held_out = {name.removeprefix("casual/") for name in real_ranges()["casual_held_out"]}
    return [(s.path, gender_name(s.gender)) for s in scan_folder(casual, "casual")
            if s.path.relative_to(casual).as_posix() not in held_out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["warm-start", "composites", "portraits"])
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="the folder holding business/ and casual/")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--samples", type=int, default=3, help="warm-start pairs per portrait")
    parser.add_argument("--limit", type=int, default=None, help="at most this many source photos")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    unseen = portraits_not_in_outfits(args.datasets / "business", held_out_portraits())
    if args.kind == "warm-start":
        rows = unseen
        make = lambda photo, gender, rng: warm_start_samples(photo, rng, args.samples, args.resolution)  # noqa: E731
    elif args.kind == "composites":
        rows = casual_training_photos(args.datasets / "casual")
        make = lambda photo, gender, rng: [casual_composite(photo, gender, rng, args.resolution)]  # noqa: E731
    else:
        rows = unseen
        make = lambda photo, gender, rng: [portrait_example(photo, args.resolution)]  # noqa: E731
    items = photo_items(rows[: args.limit], make, args.seed)
    counts = build_examples(items, args.output)
    print(json.dumps({**counts, "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
