"""Evaluate selfie -> business translations: KID/FID (EfficientNet-Lite0 features), identity, face preservation,
background uniformity, domain and attire probes. Writes metrics.json, report.md and contact_sheet.png.

    # images already translated, paired with their inputs by file stem
    python scripts/evaluate.py --generated out/canada --selfies ../shared/datasets/eval/canada --output eval/run1
    # translate with a model first (omit the value for the bundled default model)
    python scripts/evaluate.py --model runs/final --selfies ../shared/datasets/eval/canada --output eval/run2
    # baseline: real casual photos, no model
    python scripts/evaluate.py --generated ../shared/datasets/casual --limit 200 --output eval/baseline

The probes are trained on --train-casual / --train-business (cached in --cache-dir, default OUTPUT/cache).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cyclegan_biz.evaluation import evaluate_folders, write_outputs
from cyclegan_biz.wardrobe.vocabulary import ATTIRE_AUTO, ATTIRE_CHOICES

DATASETS = Path("../shared/datasets")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--generated", type=Path, help="folder of translated images")
    source.add_argument("--model", nargs="?", const="", metavar="PATH_OR_HUB_ID",
                        help="translate --selfies with this model first (no value: the bundled default)")
    parser.add_argument("--selfies", type=Path, help="folder of input photos (paired by file stem)")
    parser.add_argument("--reference", type=Path, default=DATASETS / "business",
                        help="real business photos (default: %(default)s)")
    parser.add_argument("--output", type=Path, required=True, help="folder for metrics.json, report.md, PNG")
    parser.add_argument("--limit", type=int, help="evaluate at most N images (seeded random choice)")
    parser.add_argument("--reference-limit", type=int, help="use at most N reference images")
    parser.add_argument("--attire", choices=ATTIRE_CHOICES, default=ATTIRE_AUTO)
    parser.add_argument("--size", type=int, default=1024, help="output size when translating with --model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-casual", type=Path, nargs="+", default=[DATASETS / "casual"],
                        help="real casual photos for the domain probe (default: ../shared/datasets/casual)")
    parser.add_argument("--train-business", type=Path, nargs="+", default=[DATASETS / "business"],
                        help="real business photos, gender-labelled in metadata.csv for the attire probe "
                             "(default: ../shared/datasets/business)")
    parser.add_argument("--train-limit", type=int, help="at most N training photos per domain")
    parser.add_argument("--cache-dir", type=Path, help="probe weights and real-photo features (default OUTPUT/cache)")
    args = parser.parse_args(argv)
    if args.model is not None and args.selfies is None:
        parser.error("--model needs --selfies")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = evaluate_folders(
        args.generated, args.reference, args.train_casual, args.train_business, args.output,
        selfies=args.selfies, model=args.model or None, attire=args.attire, limit=args.limit,
        reference_limit=args.reference_limit, train_limit=args.train_limit, seed=args.seed,
        cache_dir=args.cache_dir, size=args.size,
    )
    paths = write_outputs(result, args.output)
    summary = result["summary"]
    for key in ("kid_effnet_lite0", "fid_effnet_lite0", "identity_same_person_share", "face_preservation_mae_mean",
                "background_std_mean", "domain_business_share", "attire_match_share"):
        if summary.get(key) is not None:
            print(f"{key}: {summary[key]:.4g}")
    print(f"Wrote {', '.join(str(p) for p in paths.values())} in {result['timings']['total_s']:.0f} s")


if __name__ == "__main__":
    main()
