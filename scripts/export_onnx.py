"""Export a cyclegan-biz model to ONNX, for the pipeline's onnx engine (onnxruntime, no torch at run time).

Writes ``model.onnx`` (the A2B generator: ``image`` B x 3 x H x W in [-1, 1] and ``attire`` B x 2 float one-hot or
probabilities [blazer, suit] -> ``output`` B x 3 x H x W in [-1, 1]; batch, height and width are dynamic) and, when
the model has ``discriminator_a`` with a class head, ``attire_classifier.onnx`` (``image`` -> ``probabilities``).
By default they go into the model folder, where ``from_pretrained(..., engine="onnx"|"auto")`` finds them; then
checks them against PyTorch.

    python scripts/export_onnx.py                          # the bundled model (cyclegan_biz/pretrained/selfie2biz)
    python scripts/export_onnx.py runs/patch/final --output-dir /tmp/onnx --opset 18
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cyclegan_biz.errors import CycleBizError
from cyclegan_biz.pipeline import export_onnx, load_torch_models, resolve_model_dir
from cyclegan_biz.wardrobe.vocabulary import ATTIRES


def check_parity(folder: Path, paths: dict[str, Path], batch: int = 2, seed: int = 0) -> dict[str, float]:
    """Max abs difference between onnxruntime and PyTorch on random inputs (both attires, a 4:5 canvas too)."""
    import onnxruntime as ort
    import torch

    generator, classifier = load_torch_models(folder, "cpu")
    size = generator.config.resolution
    rng = np.random.default_rng(seed)
    session = ort.InferenceSession(str(paths["generator"]), providers=["CPUExecutionProvider"])
    report = {}
    for name, shape in (("square", (batch, 3, size, size)), ("portrait", (batch, 3, size * 5 // 4, size))):
        image = rng.uniform(-1, 1, shape).astype(np.float32)
        attire = np.eye(len(ATTIRES), dtype=np.float32)[np.arange(batch) % len(ATTIRES)]
        ours = session.run(None, {"image": image, "attire": attire})[0]
        with torch.inference_mode():
            theirs = generator(torch.from_numpy(image), torch.from_numpy(attire)).numpy()
        report[f"generator_{name}"] = float(np.abs(ours - theirs).max())
    if "classifier" in paths and classifier is not None:
        session = ort.InferenceSession(str(paths["classifier"]), providers=["CPUExecutionProvider"])
        image = rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
        ours = session.run(None, {"image": image})[0]
        with torch.inference_mode():
            theirs = torch.softmax(classifier(torch.from_numpy(image)).class_logits, dim=1).numpy()
        report["classifier"] = float(np.abs(ours - theirs).max())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=None, help="model folder or Hub id (default: the bundled model)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="where to write (default: the model folder; ./OWNER--NAME-onnx for a Hub id)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 17 or newer (default: 17)")
    parser.add_argument("--no-classifier", action="store_true", help="export the generator only")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="max abs difference allowed vs PyTorch")
    args = parser.parse_args(argv)
    if args.opset < 17:
        parser.error("--opset must be 17 or newer")
    try:
        folder = resolve_model_dir(args.model)
        output_dir = args.output_dir
        if output_dir is None and args.model is not None and not Path(args.model).expanduser().exists():
            output_dir = Path(args.model.replace("/", "--") + "-onnx")  # never write into the Hub cache
        paths = export_onnx(folder, output_dir, opset=args.opset, classifier=not args.no_classifier)
        report = check_parity(folder, paths)
    except CycleBizError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(json.dumps({"max_abs_diff": report}, indent=2))
    worst = max(report.values())
    if worst > args.tolerance:
        print(f"error: ONNX and PyTorch differ by {worst:.2e} (> {args.tolerance:.0e})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
