"""The outfit measurements of one folder of headshots, and their summary.

Per image (``measure_image``): the clothes box and its p(business) (``clothes_probe``), the seam statistics
(``seams``) and the clothes/face sharpness ratio (``sharpness``). ``summarize`` turns them into the headline
numbers ``clothes_business_share``, ``seam_within_real_share`` and ``sharpness_in_range_share``; ``REPORT_ROWS``
labels them for the evaluation report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import CycleBizError
from ..imageio import load_rgb_array
from .clothes_probe import MIN_COVERAGE, p_business
from .portrait import Portrait
from .references import real_ranges
from .report import _fmt
from .seams import seam_stats, within_real, within_share
from .sharpness import in_range, sharpness_ratio

MIN_PERSON_SHARE = 0.25  # a clothes box that is mostly background shows no attire: it cannot count as business


def measure_portrait(portrait: Portrait) -> dict[str, Any]:
    """Seam statistics, sharpness ratio, the clothes box (key ``region``, uint8) and how much of it is usable."""
    region, coverage = portrait.clothes_region()
    return {**seam_stats(portrait), "sharpness_ratio": sharpness_ratio(portrait), "region": region,
            "clothes_coverage": coverage, "clothes_person_share": person_share(region)}


def person_share(region: np.ndarray, grey: int = 128) -> float:
    """Share of the clothes box that is not the flat grey (i.e. person inside the photo)."""
    return float(np.mean(np.abs(region.astype(np.int16) - grey).max(axis=-1) > 2))


def measure_image(path: str | Path) -> dict[str, Any]:
    """``measure_portrait`` of an image file; ``{"error": ...}`` when no face is found."""
    try:
        return measure_portrait(Portrait.from_rgb(load_rgb_array(path, max_side=None)))
    except CycleBizError as err:
        return {"error": f"{type(err).__name__}: {err}"}


def judged(record: dict[str, Any]) -> bool:
    """Whether the clothes box shows enough of the person inside the image to judge the attire."""
    return (record.get("clothes_coverage", 0.0) >= MIN_COVERAGE
            and record.get("clothes_person_share", 0.0) >= MIN_PERSON_SHARE)


def measure_folder(paths: Sequence[Path], desc: str | None = "outfit metrics") -> list[dict[str, Any]]:
    """Per-image outfit metrics (without the boxes), with ``p_clothes_business`` and the within-range flags."""
    records = [measure_image(p) for p in tqdm(paths, desc=desc, disable=desc is None, unit="img")]
    ranges = real_ranges()
    found = [r for r in records if "error" not in r]
    for record, p in zip(found, p_business([r["region"] for r in found]), strict=True):
        record["p_clothes_business"] = float(p)
    for record in records:
        record.pop("region", None)
        if "error" in record:
            continue
        record["clothes_business"] = judged(record) and record["p_clothes_business"] >= 0.5
        record["seam_within_real"] = within_real(record, ranges)
        record["sharpness_in_range"] = in_range(record["sharpness_ratio"], tuple(ranges["sharpness"]["range"]))
    return records


def _finite(values: Iterable[float | None]) -> np.ndarray:
    return np.array([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)


def _mean(values: Iterable[float | None]) -> float | None:
    array = _finite(values)
    return float(array.mean()) if len(array) else None


def _median(values: Iterable[float | None]) -> float | None:
    array = _finite(values)
    return float(np.median(array)) if len(array) else None


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Headline numbers over one folder (an image without a face counts as not business)."""
    found = [r for r in records if "error" not in r]
    return {
        "clothes_business_share": float(np.mean([r.get("clothes_business", False) for r in records]))
        if records else None,
        "clothes_judged_share": float(np.mean([judged(r) for r in found])) if found else None,
        "clothes_p_business_mean": _mean(r["p_clothes_business"] for r in found),
        "seam_within_real_share": within_share(r["seam_within_real"] for r in found),
        "seam_row_ratio_median": _median(r["seam_row_ratio"] for r in found),
        "skin_delta_ab_median": _median(r["skin_delta_ab"] for r in found),
        "sharpness_in_range_share": within_share(r["sharpness_in_range"] for r in found),
        "sharpness_ratio_median": _median(r["sharpness_ratio"] for r in found),
        "outfit_metrics_no_face": len(records) - len(found),
    }


REPORT_ROWS = (
    ("clothes_business_share", "Clothes probe: share of outputs in business attire (below the chin only)", 3),
    ("clothes_judged_share", "Clothes probe: share with enough clothes in view to judge", 3),
    ("seam_within_real_share", "Seams: share within the real-portrait 95 % thresholds", 3),
    ("seam_row_ratio_median", "Seams: median strongest-row / median-row lightness gradient", 2),
    ("skin_delta_ab_median", "Seams: median cheek-neck colour distance (Δa*b*)", 1),
    ("sharpness_in_range_share", "Sharpness: share with clothes/face detail in the real range", 3),
    ("sharpness_ratio_median", "Sharpness: median clothes/face high-frequency ratio", 3),
    ("kid_effnet_lite0_fixed_reference", "KID vs the fixed reference (business photos never used for outfits)", 4),
)


def kid_fixed_reference(outputs: Sequence[Path], datasets: str | Path, cache: Path | None = None,
                        seed: int = 0, features: np.ndarray | None = None) -> dict[str, float | None]:
    """KID (EfficientNet-Lite0 features) of ``outputs`` against the fixed reference of business portraits never
    used for outfits nor for the clothes probe (``references.kid_reference_files``); None where ``datasets`` does
    not hold them. ``features``: those of ``outputs`` (``FeatureExtractor("full")``) when already computed."""
    from .distances import kid
    from .features import FeatureExtractor, embed_files
    from .references import kid_reference_files

    files = [p for p in kid_reference_files(datasets) if p.is_file()]
    if len(files) < 2:
        return {"kid_effnet_lite0_fixed_reference": None, "n_fixed_reference": len(files)}
    extractor = FeatureExtractor("full")
    reference = embed_files(files, extractor, cache / "features_kid_reference.npz" if cache else None)
    value = kid(embed_files(list(outputs), extractor) if features is None else features, reference, seed=seed)
    return {"kid_effnet_lite0_fixed_reference": value["mean"], "kid_effnet_lite0_fixed_reference_std": value["std"],
            "n_fixed_reference": len(files)}


def add_outfit_metrics(result: dict[str, Any], datasets: str | Path, cache: Path | None = None,
                       features: np.ndarray | None = None) -> None:
    """Adds the outfit measurements to an ``evaluate_folders`` result: per image, and to its summary (``features``:
    the outputs' full-image features, for the fixed-reference KID)."""
    outputs = [Path(r["output"]) for r in result["per_image"]]
    records = measure_folder(outputs)
    for row, record in zip(result["per_image"], records, strict=True):
        row.update({k if k != "error" else "outfit_metrics_error": v for k, v in record.items()})
    result["summary"].update(summarize(records))
    result["summary"].update(kid_fixed_reference(outputs, datasets, cache, result["config"].get("seed", 0), features))


def outfit_section(summary: dict[str, Any]) -> str:
    """Markdown: the outfit measurements of one run, and how to read them."""
    ranges = real_ranges()
    limits = ranges["seam"]["thresholds"]
    low, high = ranges["sharpness"]["range"]
    lines = ["## Outfit measurements", "", "| metric | value |", "|---|---|"]
    lines += [f"| {label} | {_fmt(summary.get(key), digits)} |" for key, label, digits in REPORT_ROWS
              if summary.get(key) is not None]
    lines += [
        "", "- **Clothes probe**: logistic regression on EfficientNet-Lite0 features of the box below the chin only "
        "(background flattened, fixed detail per face size), trained on business portraits not used for outfits and "
        "casual photos; an output whose box shows too little of the person counts as not business.",
        f"- **Seams** (no learning): within real = strongest-row/median-row lightness gradient <= "
        f"{limits['seam_row_ratio']:.2f} and cheek-neck Δa*b* <= {limits['skin_delta_ab']:.1f}, the thresholds at "
        f"which {ranges['seam']['target_share']:.0%} of {ranges['seam']['n']} real business portraits pass both.",
        f"- **Sharpness**: clothes/face high-frequency ratio inside [{low:.2f}, {high:.2f}], the 5th-95th "
        f"percentiles of {ranges['sharpness']['n']} real business portraits.",
        f"- **KID (fixed reference)**: against {len(ranges['kid_reference'])} business portraits never used for "
        "outfits nor for the probe. The attire agreement above is a smoke test only: the outfit is chosen from the "
        "attire, so it passes by construction.", ""]
    return "\n".join(lines)


def comparison_table(summaries: dict[str, dict[str, Any]]) -> str:
    """Markdown table of the headline numbers of several configurations side by side (e.g. outfit auto/keep/none)."""
    shown = ("clothes_business_share", "seam_within_real_share", "sharpness_in_range_share",
             "kid_effnet_lite0_fixed_reference")
    rows = [("kid_effnet_lite0", "KID vs business (all)", 4), *(row for row in REPORT_ROWS if row[0] in shown),
            ("identity_same_person_share", "Identity kept (share under 0.6)", 3),
            ("face_core_error_mean", "Face core error (0-255; mapped by the pipeline's framing)", 2),
            ("face_preservation_mae_mean", "Face error after re-detecting and re-aligning both (0-255)", 2)]
    names = list(summaries)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(_fmt(summaries[n].get(key), digits) for n in names) + " |"
              for key, label, digits in rows]
    return "\n".join(lines) + "\n"
