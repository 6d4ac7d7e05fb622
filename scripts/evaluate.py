"""Evaluate selfie -> business translations: KID/FID (EfficientNet-Lite0 features), identity, face preservation,
background uniformity, domain and attire probes, and the outfit measurements (clothes probe below the chin, seams,
sharpness, KID against a fixed reference never used for outfits). Writes metrics.json, report.md and
contact_sheet.png.

    # images already translated, paired with their inputs by file stem
    python scripts/evaluate.py --generated out/canada --selfies ../shared/datasets/eval/canada --output eval/run1
    # translate with a model first (omit the value for the bundled default model)
    python scripts/evaluate.py --model runs/final --selfies ../shared/datasets/eval/canada --output eval/run2
    # baseline: real casual photos, no model
    python scripts/evaluate.py --generated ../shared/datasets/casual --limit 200 --output eval/baseline
    # outfit configurations side by side (eval/outfits/<outfit>/ and eval/outfits/comparison.md)
    python scripts/evaluate.py --model --selfies ../shared/datasets/eval/canada --outfit auto keep none \
        --output eval/outfits
    # re-composite test: 20 real portraits never used for outfits, their own outfit fitted back
    python scripts/evaluate.py --model --selfies ../shared/datasets/eval/canada --outfit auto --recomposite 20 \
        --output eval/outfits

The probes are trained on --train-casual / --train-business (cached in --cache-dir, default OUTPUT/cache).
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

from cyclegan_biz.evaluation import evaluate_folders, recomposite, write_outputs
from cyclegan_biz.evaluation.folders import sample
from cyclegan_biz.evaluation.outfit_metrics import comparison_table, outfit_section
from cyclegan_biz.evaluation.references import kid_reference_files
from cyclegan_biz.evaluation.report import _clean
from cyclegan_biz.wardrobe.vocabulary import ATTIRE_AUTO, ATTIRE_CHOICES

# The shared datasets next to this checkout (wherever the script is run from).
DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


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
                        help=f"real casual photos for the domain probe (default: {DATASETS / 'casual'})")
    parser.add_argument("--train-business", type=Path, nargs="+", default=[DATASETS / "business"],
                        help="real business photos, gender-labelled in metadata.csv for the attire probe "
                             f"(default: {DATASETS / 'business'})")
    parser.add_argument("--train-limit", type=int, help="at most N training photos per domain")
    parser.add_argument("--cache-dir", type=Path, help="probe weights and real-photo features (default OUTPUT/cache)")
    parser.add_argument("--outfit", nargs="+", metavar="OUTFIT",
                        help="with --model: outfit configurations to evaluate side by side (auto, keep, none, an "
                             "outfit id or a photo path); each goes to OUTPUT/<outfit>/")
    parser.add_argument("--recomposite", type=int, default=0, metavar="N",
                        help="with --model: re-composite test on N real portraits never used for outfits")
    parser.add_argument("--datasets", type=Path, default=DATASETS,
                        help="folder holding business/ (the fixed KID reference; default: %(default)s)")
    args = parser.parse_args(argv)
    if args.model is not None and args.selfies is None:
        parser.error("--model needs --selfies")
    if (args.outfit or args.recomposite) and args.model is None:
        parser.error("--outfit and --recomposite need --model")
    return args


def evaluate_one(args: argparse.Namespace, output: Path, outfit: str | None) -> dict:
    """One configuration: the general metrics, then the outfit measurements; report.md gets both."""
    result = evaluate_folders(
        args.generated, args.reference, args.train_casual, args.train_business, output,
        selfies=args.selfies, model=args.model, attire=args.attire, limit=args.limit,
        reference_limit=args.reference_limit, train_limit=args.train_limit, seed=args.seed,
        cache_dir=args.cache_dir or args.output / "cache", size=args.size, outfit=outfit, datasets=args.datasets,
    )
    paths = write_outputs(result, output)
    with paths["report"].open("a", encoding="utf-8") as report:
        report.write("\n" + outfit_section(result["summary"]))
    summary = result["summary"]
    for key in ("kid_effnet_lite0", "kid_effnet_lite0_fixed_reference", "identity_same_person_share",
                "face_preservation_mae_mean", "face_core_error_mean", "background_std_mean", "clothes_business_share",
                "seam_within_real_share", "sharpness_in_range_share", "attire_match_share"):
        if summary.get(key) is not None:
            print(f"{outfit or 'default'} {key}: {summary[key]:.4g}")
    print(f"Wrote {', '.join(str(p) for p in paths.values())} in {result['timings']['total_s']:.0f} s")
    return summary


def run_recomposite(args: argparse.Namespace) -> dict:
    """The re-composite test with the pipeline of ``--model``; writes OUTPUT/recomposite.json."""
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline

    pipe = SelfieToBusinessPipeline.from_pretrained(args.model or None)
    fit = partial(pipe, attire=args.attire, size=args.size)
    photos = sample(kid_reference_files(args.datasets), args.recomposite, args.seed)
    records = [record for photo in photos for record in recomposite.recomposite(photo, fit)]
    summary = recomposite.summarize(records)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "recomposite.json").write_text(json.dumps(_clean({"summary": summary, "per_fit": records}),
                                                             indent=2), encoding="utf-8")
    for key, value in summary.items():
        print(f"{key}: {value if value is None else round(value, 2)}")
    return summary


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.model is not None:
        args.model = args.model or None  # "" (the flag without a value) = the bundled model
    if not args.outfit:
        evaluate_one(args, args.output, None)
    else:
        summaries = {outfit: evaluate_one(args, args.output / outfit_folder(outfit), outfit)
                     for outfit in args.outfit}
        (args.output / "comparison.md").write_text(comparison_table(summaries), encoding="utf-8")
        print(comparison_table(summaries))
    if args.recomposite:
        run_recomposite(args)


def outfit_folder(outfit: str) -> str:
    """A folder name for an outfit configuration (a photo path becomes its file stem)."""
    return Path(outfit).stem if ("/" in outfit or "." in outfit) else outfit


if __name__ == "__main__":
    main()
