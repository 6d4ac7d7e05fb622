"""Hugging Face conventions: cheap top-level imports, ``save_pretrained`` / ``from_pretrained`` round trip of the
pipeline, the staged Hub folder of ``scripts/push_to_hub.py`` (offline), and whole-CycleGAN downloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cyclegan_biz import SelfieToBusinessPipeline
from cyclegan_biz.testing import make_random_model

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "cyclegan_biz" / "examples" / "canada-095m.jpg"
INFERENCE_FILES = ["config.json", "diffusion_pytorch_model.safetensors", "discriminator_a/config.json",
                   "discriminator_a/diffusion_pytorch_model.safetensors"]


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_top_level_names_are_imported_on_first_use():
    code = ("import sys, cyclegan_biz, os; heavy = [m for m in ('torch', 'cv2', 'mediapipe') if m in sys.modules]; "
            "from cyclegan_biz import CycleBizGenerator, SelfieToBusinessPipeline as Pipe; "
            "print(heavy, CycleBizGenerator.__name__, Pipe.__module__, os.environ['OMP_WAIT_POLICY'])")
    env = {"PATH": "", "PYTHONPATH": str(ROOT)}  # no OMP_WAIT_POLICY from outside: the package sets it
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["[]", "CycleBizGenerator", "cyclegan_biz.pipeline.selfie_to_business", "PASSIVE"]


@pytest.fixture
def model_with_training_parts(tmp_path) -> Path:
    """A tiny model as training writes it: the inference parts plus the B2A generator and discriminator B."""
    folder = make_random_model(tmp_path / "trained")
    make_random_model(tmp_path / "b2a", discriminator=None, seed=3)
    for sub, source in (("generator_b2a", tmp_path / "b2a"), ("discriminator_b", folder / "discriminator_a")):
        (folder / sub).mkdir()
        for file in source.glob("*.*"):
            (folder / sub / file.name).write_bytes(file.read_bytes())
    return folder


def test_save_pretrained_round_trips_the_pipeline(model_with_training_parts, tmp_path):
    pipe = SelfieToBusinessPipeline.from_pretrained(model_with_training_parts, engine="torch")
    saved = pipe.save_pretrained(tmp_path / "saved", onnx=False)
    assert _files(saved) == INFERENCE_FILES  # the training-only parts stay behind
    again = SelfieToBusinessPipeline.from_pretrained(saved, engine="torch")
    first, second = pipe(PHOTO, size=128), again(PHOTO, size=128)
    np.testing.assert_array_equal(np.asarray(first.image), np.asarray(second.image))
    assert first.attire_confidence is not None and first.attire_confidence == second.attire_confidence
    assert again.save_pretrained(saved, onnx=False) == saved  # saving onto itself is harmless


def test_save_pretrained_exports_onnx_on_request(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")  # noqa: F841 - the onnx engine below needs it
    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    pipe = SelfieToBusinessPipeline.from_pretrained(make_random_model(tmp_path / "model"), engine="torch")
    saved = pipe.save_pretrained(tmp_path / "saved", onnx=True)
    assert _files(saved) == sorted([*INFERENCE_FILES, "attire_classifier.onnx", "model.onnx"])
    onnx_pipe = SelfieToBusinessPipeline.from_pretrained(saved, engine="auto")
    assert onnx_pipe.engine.name == "onnx"
    assert abs(onnx_pipe(PHOTO, size=128).attire_confidence - pipe(PHOTO, size=128).attire_confidence) < 1e-3


@pytest.fixture(scope="module")
def push_script(load_script):
    return load_script("push_to_hub")


def test_push_to_hub_dry_run_stages_the_hub_folder_offline(push_script, tmp_path, monkeypatch, capsys):
    pytest.importorskip("onnx")
    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, stage = make_random_model(tmp_path / "model"), tmp_path / "stage"
    monkeypatch.setattr(push_script, "upload", lambda *a: pytest.fail("a dry run uploaded"))
    assert push_script.main(["org/selfie2biz", "--model", str(model), "--stage-dir", str(stage), "--dry-run"]) == 0
    assert _files(stage) == sorted([*INFERENCE_FILES, "README.md", "attire_classifier.onnx", "model.onnx"])
    assert (stage / "README.md").read_text() == (ROOT / "model_card.md").read_text()
    assert json.loads((stage / "config.json").read_text())["_class_name"] == "CycleBizGenerator"
    assert "nothing uploaded" in capsys.readouterr().out


def test_push_to_hub_uploads_the_staged_folder(push_script, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import huggingface_hub

    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    calls = []

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            calls.append(("create", repo_id, kwargs["private"]))

        def upload_folder(self, repo_id, folder_path, **kwargs):
            calls.append(("upload", repo_id, _files(Path(folder_path))))
            return "commit-url"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    model = make_random_model(tmp_path / "model")
    assert push_script.main(["org/selfie2biz", "--model", str(model), "--private"]) == 0
    assert calls[0] == ("create", "org/selfie2biz", True)
    assert calls[1][:2] == ("upload", "org/selfie2biz") and "model.onnx" in calls[1][2] and "README.md" in calls[1][2]


def test_cyclegan_from_a_hub_id_downloads_every_part(monkeypatch, model_with_training_parts):
    import huggingface_hub

    from cyclegan_biz import CycleGAN

    calls = []

    def fake_snapshot_download(repo_id, revision=None, allow_patterns=None, **kwargs):
        calls.append((repo_id, allow_patterns))
        return str(model_with_training_parts)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    gan = CycleGAN.from_pretrained("org/selfie2biz")
    assert calls == [("org/selfie2biz", None)]  # everything, not only what inference needs
    assert gan.generator_b2a is not None and gan.discriminator_b is not None
