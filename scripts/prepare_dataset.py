"""Build the unpaired casual/business dataset with precomputed face, person and valid masks.

    python scripts/prepare_dataset.py --casual ../shared/datasets/casual --business ../shared/datasets/business \
        --output data/selfie2biz-256 --resolution 256 --num-proc 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from cyclegan_biz.errors import CycleBizError
from cyclegan_biz.training.dataset import build_dataset, save_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--casual", nargs="+", required=True, help="folders of casual photos (domain A)")
    parser.add_argument("--business", nargs="+", required=True, help="folders of business photos (domain B)")
    parser.add_argument("--output", required=True, help="where to save the DatasetDict (save_to_disk)")
    parser.add_argument("--resolution", type=int, default=256, help="side of the square aligned crops")
    parser.add_argument("--test-fraction", type=float, default=0.05, help="share of each domain held out")
    parser.add_argument("--num-proc", type=int, default=1, help="worker processes")
    parser.add_argument("--backend", choices=["mediapipe", "face-alignment"], default="mediapipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--push-to-hub", metavar="REPO_ID", help="also upload to this Hub dataset repo")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    try:
        dataset, report = build_dataset(args.casual, args.business, args.resolution, args.test_fraction,
                                        args.num_proc, args.backend, args.seed)
    except (CycleBizError, FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    output = save_dataset(dataset, report, args.output, args.resolution)
    if args.push_to_hub:
        dataset.push_to_hub(args.push_to_hub)
    summary = {k: report[k] for k in ("found", "kept", "skipped", "skipped_by_reason")}
    summary["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(summary, indent=2))
    print(f"Saved to {output} (report.json lists every skipped photo; README.md is the dataset card).")


if __name__ == "__main__":
    main()
