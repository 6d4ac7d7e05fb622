"""A few-step training run on a tiny dataset: checkpoints, exact resume, Hub-layout export, two DDP processes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from space_helpers import free_port

from cyclegan_biz.models import CycleBizGenerator
from cyclegan_biz.training.dataset import SeededItems, build_dataset, save_dataset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "cyclegan_biz" / "examples").glob("*.jpg"))
TINY = ["--resolution", "32", "--generator_channels", "4", "--generator_blocks", "1",
        "--discriminator_channels", "4", "--num_samples", "1", "--log_steps", "1", "--report_to", "none",
        "--cpu"]  # the same device whatever the machine: accelerate keeps one state per process


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


@pytest.fixture
def one_thread():
    """Exact comparisons need one CPU thread: with two, the backward of the projected discriminator sums in a varying
    order (two identical 4-step runs differed by 1e-3; with one thread, by 0)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_resume_latest_continues_exactly(tiny_dataset, tmp_path, one_thread):
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


def _launch(dataset: Path, output: Path, *extra: str) -> list[dict]:
    """``accelerate launch --multi_gpu --num_processes 2 scripts/train.py --cpu``: two CPU processes, DDP on gloo."""
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "ACCELERATE_CONFIG_FILE": str(output.parent / "none.yaml"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--main_process_port", str(free_port()),
         "--mixed_precision", "no", "--dynamo_backend", "no", str(ROOT / "scripts" / "train.py"), "--cpu",
         "--dataset", str(dataset), "--output_dir", str(output), *TINY, "--discriminator", "patch",
         "--max_train_steps", "4", "--checkpointing_steps", "2", "--sample_steps", "100", "--pool_size", "2", *extra],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in (output / "logs" / "train_log.jsonl").read_text().splitlines()]


def test_two_processes_train_checkpoint_and_resume_exactly(tiny_dataset, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    log = _launch(tiny_dataset, straight)
    # One log line per step (written once, by the main process), lr decaying over the 4 steps as with one process.
    assert [row["step"] for row in log] == [1, 2, 3, 4] and [row["lr"] for row in log] == [2e-4, 2e-4, 1e-4, 0.0]
    checkpoint = straight / "checkpoint-2"
    for per_process in ("random_states_{}.pkl", "image_pools_{}.pt"):
        assert all((checkpoint / per_process.format(rank)).is_file() for rank in (0, 1))
    assert (checkpoint / "model" / "config.json").is_file() and (straight / "config.json").is_file()
    resumed.mkdir()
    shutil.copytree(checkpoint, resumed / "checkpoint-2")
    resumed_log = _launch(tiny_dataset, resumed, "--resume_from_checkpoint", "latest")
    assert [row["step"] for row in resumed_log] == [3, 4]
    for a, b in zip(log[2:], resumed_log, strict=True):  # the same losses, averaged over both processes
        assert a["g_total"] == pytest.approx(b["g_total"], rel=1e-5) and a["d_total"] == pytest.approx(b["d_total"])
    for sub in ("", "discriminator_b"):
        a = load_file(straight / sub / "diffusion_pytorch_model.safetensors")
        b = load_file(resumed / sub / "diffusion_pytorch_model.safetensors")
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


class EpochItems(SeededItems):
    """``length`` items; item i of epoch e is the tensor [e, i]."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.tensor([self.epoch, index])


def _loop(tmp_path: Path, start: int = 0, step=None, out_of_time=lambda: False, old_checkpoints=()):
    """The shared loop over a 4-item dataset (batches of one): what each step saw, the checkpoints saved (step,
    synchronised) and the log's steps. ``old_checkpoints``: steps whose folders an earlier run left there."""
    from argparse import Namespace

    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from cyclegan_biz.training.checkpoints import TrainingProgress
    from cyclegan_biz.training.loop import train_loop

    tmp_path.mkdir(exist_ok=True)
    for old in old_checkpoints:
        (tmp_path / f"checkpoint-{old}").mkdir()
    accelerator, dataset, seen, saved = Accelerator(cpu=True), EpochItems(4), [], []
    loader = accelerator.prepare(DataLoader(dataset, batch_size=1))
    args = Namespace(max_train_steps=10, log_steps=1, checkpointing_steps=3, output_dir=str(tmp_path))

    def default_step(batch):
        seen.append(tuple(batch[0].tolist()))
        return {"g_total": batch.float().sum()}

    def save(step: int, synchronize: bool) -> None:
        saved.append((step, synchronize))
        (tmp_path / f"checkpoint-{step}").mkdir(exist_ok=True)

    log = tmp_path / "log.jsonl"
    last = train_loop(accelerator, args, loader, dataset, step or default_step, save, global_step=start,
                      progress=TrainingProgress(), log_file=log, out_of_time=out_of_time)
    return last, seen, saved, [json.loads(line)["step"] for line in log.read_text().splitlines()]


def test_shared_loop_resumes_inside_an_epoch_and_saves_on_schedule(tmp_path):
    last, seen, saved, logged = _loop(tmp_path, start=5)
    # step 5 of 4-batch epochs: epoch 1 from its second batch, then epoch 2
    assert last == 10 and seen == [(1, 1), (1, 2), (1, 3), (2, 0), (2, 1)]
    assert saved == [(6, True), (9, True), (10, True)] and logged == [6, 7, 8, 9, 10]


def test_shared_loop_saves_its_last_step_even_over_an_older_runs_checkpoint(tmp_path):
    _, _, saved, _ = _loop(tmp_path, start=7, old_checkpoints=[10])  # checkpoint-10 of an earlier run
    assert saved == [(9, True), (10, True)]


def test_shared_loop_stops_when_out_of_time_and_saves_on_interrupt(tmp_path):
    calls = iter(range(100))
    last, _, saved, logged = _loop(tmp_path / "a", out_of_time=lambda: next(calls) >= 1)
    assert last == 2 and saved == [(2, True)] and logged == [1, 2]  # the step that ran out is saved, once

    def interrupted(batch):
        if int(batch[0, 1]) == 2:
            raise KeyboardInterrupt
        return {"g_total": batch.float().sum()}

    with pytest.raises(SystemExit) as stopped:
        _loop(tmp_path / "b", step=interrupted)
    assert stopped.value.code == 130
    assert sorted(p.name for p in (tmp_path / "b").glob("checkpoint-*")) == ["checkpoint-2"]


def test_forever_moves_to_the_next_epoch_on_each_pass():
    """The warm-start batches of the unpaired finisher stage come from ``forever``: its items' draws (flips) must
    change from pass to pass, as the main loader's do."""
    from torch.utils.data import DataLoader

    from cyclegan_biz.training.loop import forever

    dataset = EpochItems(2)
    batches = forever(DataLoader(dataset, batch_size=2), dataset)
    assert [next(batches)[:, 0].tolist() for _ in range(3)] == [[0, 0], [1, 1], [2, 2]]
    assert list(forever(DataLoader([], batch_size=1))) == []  # nothing to give: no endless loop
