"""A few-step training run on a tiny dataset: checkpoints, exact resume, Hub-layout export."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from cyclegan_biz.models import CycleBizGenerator
from cyclegan_biz.training.dataset import build_dataset, save_dataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "cyclegan_biz" / "examples").glob("*.jpg"))
TINY = ["--resolution", "32", "--generator_channels", "4", "--generator_blocks", "1",
        "--discriminator_channels", "4", "--num_samples", "1", "--log_steps", "1", "--report_to", "none"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    casual, business = root / "casual", root / "business"
    casual.mkdir()
    business.mkdir()
    for i, photo in enumerate(EXAMPLES):
        shutil.copy(photo, (casual if i % 2 else business) / photo.name)
    # One labelled casual photo, the other unlabelled: the semi-supervised case.
    names = sorted(p.name for p in casual.iterdir())
    (casual / "metadata.csv").write_text(
        "file_name,gender,source,licence\n" + f"{names[0]},female,test,CC BY 4.0\n" + f"{names[1]},,test,CC BY 4.0\n"
    )
    dataset, report = build_dataset([casual], [business], resolution=64, test_fraction=0.0)
    return save_dataset(dataset, report, root / "dataset", 64)


def _train(dataset: Path, output: Path, *extra: str) -> None:
    from scripts_train import main  # noqa: PLC0415 - imported via the path set up below

    main(["--dataset", str(dataset), "--output_dir", str(output), *TINY, *extra])


@pytest.fixture(autouse=True)
def _scripts_on_path(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("scripts_train", ROOT / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "scripts_train", module)


def test_training_writes_checkpoints_logs_samples_and_hub_export(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    _train(tiny_dataset, out, "--max_train_steps", "4", "--checkpointing_steps", "2", "--sample_steps", "2",
           "--checkpoints_total_limit", "1", "--discriminator", "patch")
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-4"]  # total limit keeps the newest
    log = [json.loads(line) for line in (out / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3, 4]
    assert {"g_adv", "cycle", "face", "background", "g_class", "d_adv_a", "d_class_a"} <= set(log[0])
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == ["step-000002.png", "step-000004.png"]
    generator = CycleBizGenerator.from_pretrained(out)
    assert generator.config.resolution == 32 and generator.config.num_attire_classes == 2
    for sub in ("generator_b2a", "discriminator_a", "discriminator_b"):
        assert (out / sub / "diffusion_pytorch_model.safetensors").is_file()


def test_resume_latest_continues_exactly(tiny_dataset, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    args = ["--max_train_steps", "4", "--checkpointing_steps", "2", "--sample_steps", "100",
            "--discriminator", "projected", "--pool_size", "2"]
    _train(tiny_dataset, straight, *args)
    # A second run holding only the step-2 checkpoint resumes there and must land on the same weights.
    resumed.mkdir()
    shutil.copytree(straight / "checkpoint-2", resumed / "checkpoint-2")
    _train(tiny_dataset, resumed, *args, "--resume_from_checkpoint", "latest")
    log = [json.loads(line) for line in (resumed / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [3, 4]  # continued from step 2, not from 0
    a = load_file(straight / "diffusion_pytorch_model.safetensors")
    b = load_file(resumed / "diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_accelerate_launch_runs_the_script(tiny_dataset, tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "ACCELERATE_CONFIG_FILE": str(tmp_path / "none.yaml")}
    result = subprocess.run(
        [str(accelerate), "launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "scripts" / "train.py"),
         "--dataset", str(tiny_dataset), "--output_dir", str(tmp_path / "launched"), *TINY,
         "--max_train_steps", "1", "--checkpointing_steps", "1", "--discriminator", "patch"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "launched" / "checkpoint-1").is_dir()
    assert (tmp_path / "launched" / "config.json").is_file()
