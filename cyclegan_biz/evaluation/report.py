"""What an evaluation writes: metrics.json, report.md (the headline table and how to read it) and a contact sheet
of every pair with its per-image numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..visualize import fitted_tile, image_grid
from .features import FEATURE_SIZE
from .identity import SAME_PERSON_THRESHOLD


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
    ("face_preservation_mae_mean", "Face preservation: mean abs. difference in the face, 0-255 (each image "
     "re-detected and re-aligned: includes landmark jitter)", 2),
    ("face_core_error_mean", "Face core error: mean abs. difference in the face core, 0-255 (output against the "
     "input mapped by the pipeline's framing)", 2),
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
