"""Benchmark the headshot pipeline on CPU: per-stage latency, model load, cold start and peak memory.

For each engine (torch, onnx): loads the model, converts a 12-megapixel JPEG selfie (an example photo upscaled to
3000x4000 and saved as JPEG) into a 1024 px headshot N times and reports p50/p95 per stage and end to end; then
starts fresh subprocesses (import + load + first image) for the cold start and their peak memory (ru_maxrss); the
torch engine's cold start runs without onnxruntime (hidden), as an install without the onnx extra. The torch engine
loads its models on first use and the outfit path needs none of them: its "model load" is near zero.
Prints a Markdown table and writes JSON. Stages of the outfit path (the default, ``--outfit auto``): decode, face,
segment (person matte and headshot frame), attire (the classifier, for attire="auto"), outfit (pick, mirror),
pose (shoulders), fit (outfit layers, neck, head matte, seam blend at <= 512 px), compose (exact face), encode JPEG.
With ``--outfit none`` (the generator path): decode, face, generator, compose, background, encode.

    python scripts/benchmark.py                                   # the bundled model
    python scripts/benchmark.py --model runs/patch/final --runs 30
    python scripts/benchmark.py --random-model shipped     # random weights, shipped size (32 ch, 6 blocks, 128 px)
    python scripts/benchmark.py --random-model tiny --engines torch --output /tmp/bench.json
    python scripts/benchmark.py --outfit none                     # the generator path

Targets (2-core CPU, model loaded): end to end median < 0.5 s; cold start < 5 s; peak memory < 1.5 GB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cyclegan_biz import pipeline as pipeline_stages
from cyclegan_biz.testing import GENERATOR_SIZES, make_random_model  # the package sets OMP_WAIT_POLICY first

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "cyclegan_biz" / "examples" / "canada-095m.jpg"
# Stages of the generator path (--outfit none) and of the outfit path (the default), plus encoding.
GENERATOR_STAGES = (*pipeline_stages.STAGES, "encode")
OUTFIT_STAGES = (*pipeline_stages.OUTFIT_STAGES, "encode")
TARGETS = {"end_to_end_p50_s": 0.5, "cold_start_s": 5.0, "peak_rss_mb": 1536}

# A fresh process: import, load, first image. For the torch engine onnxruntime is hidden (the attire classifier's
# features would run there otherwise): what an install without the onnx extra gets.
COLD_START = r"""
import os, sys, time, json, io, resource
start = time.perf_counter()
if sys.argv[2] == "torch":
    sys.modules["onnxruntime"] = None  # import fails, find_spec finds nothing
from cyclegan_biz.pipeline import SelfieToBusinessPipeline
imported = time.perf_counter()
pipe = SelfieToBusinessPipeline.from_pretrained(sys.argv[1] or None, engine=sys.argv[2], device="cpu")
loaded = time.perf_counter()
result = pipe(sys.argv[3], size=int(sys.argv[4]), outfit=sys.argv[5])
buffer = io.BytesIO()
result.image.save(buffer, "JPEG", quality=95, subsampling=0)
done = time.perf_counter()
print(json.dumps({
    "import_s": imported - start, "load_s": loaded - imported, "first_image_s": done - loaded,
    "in_process_s": done - start, "torch_imported": "torch" in sys.modules,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
}))
"""


def make_photo(folder: Path, width: int = 3000, height: int = 4000) -> Path:
    """A 12-megapixel JPEG selfie: the example upscaled (and centred on a stretched copy if the aspect differs)."""
    from PIL import Image

    example = Image.open(EXAMPLE).convert("RGB")
    scale = min(width / example.width, height / example.height)
    upscaled = example.resize((round(example.width * scale), round(example.height * scale)), Image.Resampling.BICUBIC)
    canvas = example.resize((width, height), Image.Resampling.BILINEAR)
    canvas.paste(upscaled, ((width - upscaled.width) // 2, height - upscaled.height))
    path = folder / f"selfie-{width}x{height}.jpg"
    canvas.save(path, quality=92)
    return path


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(array, 50)), "p95": float(np.percentile(array, 95)),
            "min": float(array.min()), "max": float(array.max())}


def stages_of(outfit: str) -> tuple[str, ...]:
    return GENERATOR_STAGES if outfit == "none" else OUTFIT_STAGES


def warm_runs(model: str | None, engine: str, photo: Path, size: int, runs: int, outfit: str = "auto") -> dict:
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline

    start = time.perf_counter()
    pipe = SelfieToBusinessPipeline.from_pretrained(model, engine=engine, device="cpu")
    load_s = time.perf_counter() - start  # in this process: imports already paid by earlier steps
    pipe(photo, size=size, outfit=outfit)  # warm-up (first mediapipe graph runs, allocator, wardrobe loaded)
    stages = stages_of(outfit)
    per_stage: dict[str, list[float]] = {stage: [] for stage in stages}
    totals, walls, cpus = [], [], []
    for _ in range(runs):
        begin, cpu_begin = time.perf_counter(), time.process_time()
        result = pipe(photo, size=size, outfit=outfit)
        encode_start = time.perf_counter()
        buffer = io.BytesIO()
        result.image.save(buffer, "JPEG", quality=95, subsampling=0)
        result.timings["encode"] = time.perf_counter() - encode_start
        walls.append(time.perf_counter() - begin)
        cpus.append(time.process_time() - cpu_begin)
        totals.append(sum(result.timings.values()))
        for stage in stages:
            per_stage[stage].append(result.timings.get(stage, 0.0))
    return {
        "engine": pipe.engine.name, "model": str(pipe.model_dir), "resolution": pipe.resolution,
        "load_s": load_s, "stages": {stage: percentiles(v) for stage, v in per_stage.items()},
        "end_to_end": percentiles(walls), "sum_of_stages": percentiles(totals), "end_to_end_cpu": percentiles(cpus),
        "output_size": list(result.image.size),
    }


def cold_starts(model: str | None, engine: str, photo: Path, size: int, repeats: int, outfit: str = "auto") -> dict:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", COLD_START, model or "", engine, str(photo), str(size), outfit],
                              capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"cold-start run failed:\n{proc.stderr[-2000:]}")
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        report["wall_s"] = wall  # interpreter start + imports + load + first image + exit
        runs.append(report)
    keys = ("wall_s", "import_s", "load_s", "first_image_s", "peak_rss_mb", "cpu_s")
    summary = {key: float(np.median([r[key] for r in runs])) for key in keys}
    summary["peak_rss_mb_max"] = float(max(r["peak_rss_mb"] for r in runs))
    summary["torch_imported"] = runs[0]["torch_imported"]
    summary["runs"] = runs
    return summary


def markdown(results: dict) -> str:
    engines = list(results["engines"])
    header = "| stage | " + " | ".join(f"{e} p50 (ms) | {e} p95 (ms)" for e in engines) + " |"
    lines = [header, "|---|" + "---:|---:|" * len(engines)]

    def ms(value: float) -> str:
        return f"{value * 1000:.0f}"

    for stage in (*stages_of(results["outfit"]), "end_to_end", "end_to_end_cpu"):
        cells = []
        for engine in engines:
            warm = results["engines"][engine]["warm"]
            stats = warm[stage] if stage.startswith("end_to_end") else warm["stages"][stage]
            cells += [ms(stats["p50"]), ms(stats["p95"])]
        name = {"end_to_end": "**end to end** (wall)", "end_to_end_cpu": "end to end, CPU time of the process"}
        lines.append(f"| {name.get(stage, stage)} | " + " | ".join(cells) + " |")
    target = TARGETS["end_to_end_p50_s"]
    for engine in engines:
        p50 = results["engines"][engine]["warm"]["end_to_end"]["p50"]
        lines.append(f"\n{engine}: end to end median {ms(p50)} ms, target < {ms(target)} ms: "
                     + ("met" if p50 < target else "MISSED"))
    lines += ["", "| | " + " | ".join(engines) + " | target |", "|---|" + "---:|" * len(engines) + "---:|"]
    rows = [
        ("model load, warm process (s)", lambda r: f"{r['warm']['load_s']:.2f}", ""),
        ("cold start: import + load + first image, wall (s)", lambda r: f"{r['cold']['wall_s']:.2f}",
         f"< {TARGETS['cold_start_s']:g}"),
        ("cold start, CPU time of the process (s)", lambda r: f"{r['cold']['cpu_s']:.2f}", ""),
        ("  of which imports (s)", lambda r: f"{r['cold']['import_s']:.2f}", ""),
        ("  of which model load (s)", lambda r: f"{r['cold']['load_s']:.2f}", ""),
        ("  of which first image (s)", lambda r: f"{r['cold']['first_image_s']:.2f}", ""),
        ("peak memory, cold process (MB)", lambda r: f"{r['cold']['peak_rss_mb']:.0f}",
         f"< {TARGETS['peak_rss_mb']}"),
        ("torch imported", lambda r: "yes" if r["cold"]["torch_imported"] else "no", ""),
    ]
    for label, cell, target in rows:
        values = [cell(results["engines"][e]) if "cold" in results["engines"][e] else "-" for e in engines]
        lines.append(f"| {label} | " + " | ".join(values) + f" | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    source.add_argument("--random-model", choices=sorted(GENERATOR_SIZES),
                        help="benchmark a randomly initialised model of this size instead")
    parser.add_argument("--discriminator", choices=("patch", "projected"), default="patch",
                        help="discriminator A of --random-model (its class head picks the attire)")
    parser.add_argument("--engines", nargs="+", choices=("torch", "onnx"), default=["torch", "onnx"])
    parser.add_argument("--runs", type=int, default=20, help="timed conversions per engine (default: 20)")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold-start subprocesses per engine (default: 3)")
    parser.add_argument("--size", type=int, default=1024, help="output size (default: 1024)")
    parser.add_argument("--photo", type=Path, default=None, help="benchmark this photo instead of the 12-MP JPEG")
    parser.add_argument("--output", type=Path, default=Path("benchmark.json"), help="JSON report path")
    parser.add_argument("--outfit", default="auto",
                        help="the pipeline's outfit= (auto: the outfit path; keep; none: the generator path)")
    args = parser.parse_args(argv)

    from cyclegan_biz.cli import quiet_native_logs

    with quiet_native_logs(), tempfile.TemporaryDirectory(prefix="cyclegan-biz-bench-") as tmp:
        tmp_dir = Path(tmp)
        photo = args.photo or make_photo(tmp_dir)
        model = args.model
        if args.random_model:
            model = str(make_random_model(tmp_dir / "model", args.random_model, args.discriminator, half=True))
        if "onnx" in args.engines:
            # Export once (into the model folder for a random model, else the user cache), so the cold start of
            # the onnx engine measures what a user with a shipped model.onnx gets.
            from cyclegan_biz.pipeline import export_onnx, onnx_files, resolve_model_dir

            folder = resolve_model_dir(model)
            if args.random_model:
                export_onnx(folder)
            else:
                onnx_files(folder)
        load_before = os.getloadavg()
        results: dict = {
            "photo": {"path": str(args.photo or "generated"), "pixels": None}, "size": args.size,
            "outfit": args.outfit,
            "model": args.model or (f"random {args.random_model} {GENERATOR_SIZES[args.random_model]}, "
                                    f"discriminator {args.discriminator}" if args.random_model else "bundled"),
            "system": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                       "load_average_before": load_before},
            "engines": {},
        }
        from PIL import Image

        with Image.open(photo) as image:
            results["photo"]["pixels"] = list(image.size)
        for engine in args.engines:
            print(f"[{engine}] {args.runs} warm runs ...", file=sys.stderr)
            entry = {"warm": warm_runs(model, engine, photo, args.size, args.runs, args.outfit)}
            if args.cold_runs > 0:
                print(f"[{engine}] {args.cold_runs} cold starts ...", file=sys.stderr)
                entry["cold"] = cold_starts(model, engine, photo, args.size, args.cold_runs, args.outfit)
            results["engines"][engine] = entry
        results["system"]["load_average_after"] = os.getloadavg()
        import torch

        results["system"]["torch_threads"] = torch.get_num_threads()

    table = markdown(results)
    results["markdown"] = table
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")
    pixels = results["photo"]["pixels"]
    print(f"Model: {results['model']}; photo {pixels[0]}x{pixels[1]} JPEG -> {args.size} px headshot; "
          f"{args.runs} runs; {os.cpu_count()} CPUs; load average {load_before[0]:.1f} before, "
          f"{results['system']['load_average_after'][0]:.1f} after.\n")
    print(table)
    print(f"\nJSON: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
