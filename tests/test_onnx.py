"""The ONNX export (scripts/export_onnx.py) and the pipeline's onnx engine: parity with PyTorch."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from cyclegan_biz import pipeline as pipeline_module
from cyclegan_biz.models.discriminator import CycleBizDiscriminator
from cyclegan_biz.models.generator import CycleBizGenerator
from cyclegan_biz.pipeline import SelfieToBusinessPipeline
from cyclegan_biz.testing import make_random_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]
EXPORT_SCRIPT = ROOT / "scripts" / "export_onnx.py"
MAN = Path(pipeline_module.__file__).parents[1] / "examples" / "canada-095m.jpg"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    # fp16, as the bundled model is stored
    return make_random_model(tmp_path_factory.mktemp("tiny-model-onnx"), half=True, seed=1)


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory) -> Path:
    """The model exported by the script into a separate folder (so the model folder has no model.onnx)."""
    out = tmp_path_factory.mktemp("onnx")
    script = runpy.run_path(str(EXPORT_SCRIPT))
    assert script["main"]([str(tiny_model), "--output-dir", str(out)]) == 0
    return out


def test_export_writes_opset_17_models_with_dynamic_batch(exported):
    model = onnx.load(str(exported / pipeline_module.ONNX_GENERATOR))
    onnx.checker.check_model(model)
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    inputs = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    assert inputs["image"][0] == "batch" and inputs["attire"] == ["batch", 2]
    assert (exported / pipeline_module.ONNX_CLASSIFIER).is_file()


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (3, 3, 64, 64), (2, 3, 80, 64)])
def test_generator_parity_with_torch(tiny_model, exported, shape):
    generator = CycleBizGenerator.from_pretrained(tiny_model, torch_dtype=torch.float32).eval()
    session = ort.InferenceSession(str(exported / pipeline_module.ONNX_GENERATOR), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, shape).astype(np.float32)
    for attire in ([1.0, 0.0], [0.0, 1.0], [0.3, 0.7]):  # blazer, suit, and soft probabilities
        weights = np.tile(np.array(attire, dtype=np.float32), (shape[0], 1))
        ours = session.run(None, {"image": image, "attire": weights})[0]
        with torch.inference_mode():
            theirs = generator(torch.from_numpy(image), torch.from_numpy(weights)).numpy()
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 1e-3


def test_classifier_parity_with_torch(tiny_model, exported):
    classifier = CycleBizDiscriminator.from_pretrained(tiny_model / "discriminator_a", torch_dtype=torch.float32).eval()
    session = ort.InferenceSession(str(exported / pipeline_module.ONNX_CLASSIFIER), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(1).uniform(-1, 1, (2, 3, 64, 64)).astype(np.float32)
    probabilities = session.run(None, {"image": image})[0]
    with torch.inference_mode():
        expected = torch.softmax(classifier(torch.from_numpy(image)).class_logits, dim=1).numpy()
    assert np.abs(probabilities - expected).max() < 1e-4
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_pipeline_onnx_engine_matches_torch_engine(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    onnx_pipe = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="onnx")  # exports into the cache
    assert onnx_pipe.engine.name == "onnx" and onnx_pipe.generator is None
    assert list((tmp_path / "cache" / "onnx").glob("*/model.onnx"))
    torch_pipe = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch")
    for attire in ("auto", "blazer"):
        a = onnx_pipe(MAN, size=256, attire=attire, aspect="4:5")
        b = torch_pipe(MAN, size=256, attire=attire, aspect="4:5")
        assert a.attire == b.attire
        assert (a.attire_confidence is None) == (b.attire_confidence is None)
        if a.attire_confidence is not None:
            assert a.attire_confidence == pytest.approx(b.attire_confidence, abs=1e-4)
        diff = np.abs(np.asarray(a.image).astype(int) - np.asarray(b.image).astype(int))
        # Float rounding may move the soft person-matte edge by a hair: a few pixels may differ a little more.
        assert (diff > 2).mean() < 1e-3 and diff.mean() < 0.05
    # A second load reuses the cached export.
    cached = sorted((tmp_path / "cache" / "onnx").rglob("*.onnx"))
    mtimes = [p.stat().st_mtime_ns for p in cached]
    SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="onnx")
    assert [p.stat().st_mtime_ns for p in cached] == mtimes


def test_auto_engine_uses_a_shipped_or_cached_model_onnx(tiny_model, exported, tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    assert SelfieToBusinessPipeline.from_pretrained(folder).engine.name == "torch"
    for name in (pipeline_module.ONNX_GENERATOR, pipeline_module.ONNX_CLASSIFIER):
        shutil.copy(exported / name, folder / name)
    pipe = SelfieToBusinessPipeline.from_pretrained(folder)
    assert pipe.engine.name == "onnx" and pipe.engine.classifier is not None
    result = pipe(MAN, size=128)
    assert result.attire_confidence is not None
    # Without a shipped model.onnx, "auto" picks onnx once an earlier run exported the model into the cache.
    plain = tmp_path / "plain"
    shutil.copytree(tiny_model, plain)
    assert SelfieToBusinessPipeline.from_pretrained(plain).engine.name == "torch"
    SelfieToBusinessPipeline.from_pretrained(plain, engine="onnx")
    assert SelfieToBusinessPipeline.from_pretrained(plain).engine.name == "onnx"


def test_shipped_generator_without_classifier_exports_the_classifier(tiny_model, exported, tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    shutil.copy(exported / pipeline_module.ONNX_GENERATOR, folder / pipeline_module.ONNX_GENERATOR)
    files = pipeline_module.onnx_files(folder)
    assert files["generator"] == folder / pipeline_module.ONNX_GENERATOR
    assert files["classifier"].parent.parent == tmp_path / "cache" / "onnx"
    assert not (files["classifier"].parent / pipeline_module.ONNX_GENERATOR).exists()
    assert SelfieToBusinessPipeline.from_pretrained(folder)(MAN, size=128).attire_confidence is not None
