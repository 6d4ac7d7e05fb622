"""The ``cyclegan-biz`` command: one real subprocess run, the rest in-process through ``cli.main``."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cyclegan_biz import __version__, cli
from cyclegan_biz.testing import make_random_model

EXAMPLES = Path(cli.__file__).parent / "examples"
MAN = EXAMPLES / "canada-095m.jpg"
WOMAN = EXAMPLES / "canada-010f.jpg"
SCRIPT = Path(sys.executable).parent / "cyclegan-biz"


@pytest.fixture(autouse=True)
def private_onnx_cache(tmp_path, monkeypatch):
    """engine="auto" also looks for earlier ONNX exports in the user cache: keep the tests hermetic."""
    monkeypatch.setenv("CYCLEGAN_BIZ_CACHE", str(tmp_path / "onnx-cache"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_random_model(tmp_path_factory.mktemp("tiny-model-cli"))


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory) -> dict[str, Path]:
    """One photo of each kind that cannot become a headshot."""
    folder = tmp_path_factory.mktemp("bad")
    no_face = folder / "wall.png"
    Image.new("RGB", (320, 240), (180, 170, 160)).save(no_face)
    tiny_face = folder / "far.jpg"
    Image.open(MAN).resize((64, 85), Image.Resampling.LANCZOS).save(tiny_face)
    unreadable = folder / "broken.jpg"
    unreadable.write_bytes(b"\xff\xd8 this is not really a JPEG")
    return {"no_face": no_face, "too_small": tiny_face, "unreadable": unreadable}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_real_entry_point_converts_and_reports_failures(tiny_model, bad_inputs, tmp_path):
    """Subprocess through the installed console script: good and bad photos together, with --json.

    The model folder ships model.onnx when onnxruntime is installed (as the bundled model should), so the process
    starts without torch, fast; the torch engine is covered in-process."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        from cyclegan_biz.pipeline import export_onnx

        export_onnx(model)
    out_dir = tmp_path / "out"
    command = [SCRIPT if SCRIPT.exists() else shutil.which("cyclegan-biz"), "convert", MAN, WOMAN,
               *bad_inputs.values(), "--output", out_dir, "--model", model, "--size", "256", "--json"]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("CYCLEGAN_BIZ_DEBUG", None)
    proc = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["converted"] == 2 and report["failed"] == 3
    by_input = {Path(r["input"]).name: r for r in report["results"]}
    assert by_input[MAN.name]["ok"] and by_input[WOMAN.name]["ok"]
    assert by_input["wall.png"]["error_type"] == "NoFaceError"
    assert by_input["far.jpg"]["error_type"] == "FaceTooSmallError"
    assert by_input["broken.jpg"]["error_type"] == "UnreadableImageError"
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 3
    assert {Path(line.split(": ")[1]).name for line in error_lines} == {"wall.png", "far.jpg", "broken.jpg"}
    # The native libraries' log lines (mediapipe, TFLite) do not reach the terminal.
    assert not [line for line in proc.stderr.splitlines() if line.startswith(("W0000", "INFO:", "I0000"))]
    for name in (MAN, WOMAN):
        with Image.open(out_dir / f"{name.stem}.jpg") as image:
            assert image.size == (256, 256) and image.format == "JPEG"


@pytest.mark.parametrize("kind, message", [
    ("no_face", "No face found"), ("too_small", "too small|only about"), ("unreadable", "not a readable image"),
])
def test_each_bad_input_gets_one_line_and_the_rest_convert(capsys, tiny_model, bad_inputs, tmp_path, kind, message):
    code, out, err = run(capsys, "convert", bad_inputs[kind], MAN, "-o", tmp_path, "--model", tiny_model,
                         "--size", "128")
    assert code == 1
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad_inputs[kind]}: ")
    assert re.search(message, lines[0])
    assert (tmp_path / f"{MAN.stem}.jpg").is_file()
    assert "Converted 1 of 2 photos" in out


def test_missing_file_and_empty_pattern(capsys, tiny_model, tmp_path):
    code, out, err = run(capsys, "convert", tmp_path / "nope.jpg", str(tmp_path / "none-*.png"), MAN,
                         "-o", tmp_path / "out", "--model", tiny_model, "--size", "128")
    assert code == 1
    assert f"error: {tmp_path / 'nope.jpg'}: no such file" in err
    assert "no files match" in err
    assert (tmp_path / "out" / f"{MAN.stem}.jpg").is_file()


def test_single_file_output_and_options(capsys, tiny_model, tmp_path):
    target = tmp_path / "me.png"
    code, out, err = run(capsys, "convert", WOMAN, "-o", target, "--model", tiny_model, "--size", "128",
                         "--aspect", "4:5", "--attire", "blazer", "--background", "white", "--engine", "torch")
    assert code == 0, err
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == (128, 160)
        assert image.convert("RGB").getpixel((0, 0)) == (255, 255, 255)
    assert str(target) in out


def test_never_overwrites_without_the_flag(capsys, tiny_model, tmp_path):
    target = tmp_path / "headshot.jpg"
    target.write_bytes(b"precious")
    code, out, err = run(capsys, "convert", MAN, "-o", target, "--model", tiny_model, "--size", "128")
    assert code == 1
    assert target.read_bytes() == b"precious"
    assert err.strip() == f"error: {MAN}: {target} already exists; pass --overwrite to replace it"
    code, out, err = run(capsys, "convert", MAN, "-o", target, "--model", tiny_model, "--size", "128",
                         "--overwrite")
    assert code == 0
    with Image.open(target) as image:
        assert image.size == (128, 128)


def test_never_replaces_an_input_photo(capsys, tiny_model, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(MAN, folder / "me.jpg")
    original = (folder / "me.jpg").read_bytes()
    code, out, err = run(capsys, "convert", folder, "-o", folder, "--model", tiny_model, "--size", "128",
                         "--overwrite")
    assert code == 1
    assert "is one of the input photos" in err
    assert (folder / "me.jpg").read_bytes() == original


def test_folder_glob_json_and_repeated_names(capsys, tiny_model, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(MAN, tmp_path / folder / "photo.jpg")
    code, out, err = run(capsys, "convert", tmp_path / "a", str(tmp_path / "b" / "*.jpg"), "-o", tmp_path / "out",
                         "--model", tiny_model, "--size", "128", "--format", "png", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["converted"] == 2 and report["failed"] == 0
    outputs = sorted(Path(r["output"]).name for r in report["results"])
    assert outputs == ["photo-2.png", "photo.png"]
    first = report["results"][0]
    assert first["attire"] in ("suit", "blazer") and 0.5 <= first["attire_confidence"] <= 1
    assert set(first["timings"]) >= {"decode", "face", "segment", "fit", "compose", "encode"}  # the outfit path
    assert first["outfit"] and first["warnings"] == []
    assert len(first["face_box"]) == 4 and first["size"] == [128, 128]
    assert "Converted 2 of 2 photos" in err


@pytest.mark.parametrize("argv", [
    ["convert", "x.jpg"],  # no --output
    ["convert", "x.jpg", "-o", "o.jpg", "--size", "huge"],
    ["convert", "x.jpg", "-o", "o.jpg", "--size", "5"],
    ["convert", "x.jpg", "-o", "o.jpg", "--aspect", "3:2"],
    ["convert", "x.jpg", "-o", "o.jpg", "--attire", "kilt"],
    ["convert", "x.jpg", "-o", "o.jpg", "--background", "not-a-colour"],
    ["convert", "x.jpg", "y.jpg", "-o", "o.jpg"],  # several inputs into one file
    ["convert", "x.jpg", "-o", "o.gif"],
    ["frobnicate"],
    [],
])
def test_usage_errors_exit_2(capsys, argv):
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"cyclegan-biz {__version__}"
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    help_text = capsys.readouterr().out
    assert "cyclegan-biz demo" in help_text and "cyclegan-biz convert selfie.jpg" in help_text


def test_help_imports_nothing_heavy():
    """The parser's choices come from ``constants``: ``--help`` starts without torch, numpy, OpenCV or the pipeline."""
    code = ("import sys\nfrom cyclegan_biz import cli\ntry:\n    cli.main(['convert', '--help'])\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('torch', 'numpy', 'cv2', 'cyclegan_biz.pipeline') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--engine" in done.stdout and done.stdout.strip().endswith("[]")


def test_missing_model_is_one_error_line(capsys, tmp_path):
    code, out, err = run(capsys, "convert", MAN, "-o", tmp_path, "--model", tmp_path / "no-model")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


def test_demo_writes_headshots_and_a_sheet(capsys, tiny_model, tmp_path):
    out_dir = tmp_path / "headshots"
    code, out, err = run(capsys, "demo", "--output", out_dir, "--model", tiny_model, "--size", "128")
    assert code == 0, err
    names = sorted(p.name for p in out_dir.iterdir())
    examples = sorted(p.stem for p in EXAMPLES.glob("*.jpg"))
    assert names == sorted([f"{stem}.jpg" for stem in examples] + [cli.SHEET_NAME])
    with Image.open(out_dir / cli.SHEET_NAME) as sheet:
        assert sheet.width == 2 * 384 and sheet.height >= len(examples) * 384
        assert np.asarray(sheet).std() > 10
    assert str(out_dir / cli.SHEET_NAME) in out and str(out_dir) in out
    # A second run replaces its own results.
    code, out, err = run(capsys, "demo", "--output", out_dir, "--model", tiny_model, "--size", "128")
    assert code == 0, err


# --- write failures, --json always one document, several faces, bad colours ---------------------------------------
@pytest.fixture
def no_model_load(monkeypatch):
    """Fails the test if the CLI loads a model (the work a write failure must come before)."""
    loads = []
    monkeypatch.setattr(cli, "_load_pipeline", lambda args: loads.append(args) or pytest.fail("model loaded"))
    return loads


def _unwritable_outputs(tmp_path: Path) -> list[tuple[Path, str]]:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    cases = [(blocker / "out", "a file is in the way"), (blocker / "me.jpg", "a file is in the way")]
    try:
        (Path("/sys") / "cyclegan-biz-test").mkdir()
    except OSError:  # as it should be: sysfs takes no folders, not even from root
        cases.append((Path("/sys/cyclegan-biz-test/out"), ""))
    if os.geteuid() != 0:  # a read-only folder only stops non-root users
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        cases.append((locked, "Permission denied"))
    return cases


def test_unwritable_output_is_one_line_before_any_work(capsys, tmp_path, no_model_load):
    for output, reason in _unwritable_outputs(tmp_path):
        code, out, err = run(capsys, "convert", MAN, "-o", output)
        assert code == 1, err
        assert err.count("\n") == 1 and err.startswith(f"error: cannot write to {output}: "), err
        assert reason in err and ".tmp" not in err and "unexpected" not in err
    assert not (tmp_path / "a-file").is_dir()


def test_demo_checks_its_folder_first(capsys, tmp_path, no_model_load):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    code, out, err = run(capsys, "demo", "--output", blocker / "headshots")
    assert code == 1 and err.startswith(f"error: cannot write to {blocker / 'headshots'}: a file is in the way")


def test_json_reports_a_model_that_fails_to_load(capsys, tmp_path):
    code, out, err = run(capsys, "convert", MAN, WOMAN, "-o", tmp_path / "out", "--model", tmp_path / "no-model",
                         "--json")
    assert code == 1
    report = json.loads(out)  # one valid document, even though nothing could be converted
    assert report["error_type"] == "MissingWeightsError" and "no-model" in report["error"]
    assert report["interrupted"] is False and report["converted"] == 0
    assert [r["ok"] for r in report["results"]] == [False]  # the photo that was being started
    assert err.startswith("error: ") and "Traceback" not in err


def test_json_reports_the_results_so_far_on_ctrl_c(capsys, monkeypatch, tiny_model, tmp_path):
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline

    real = SelfieToBusinessPipeline.from_pretrained(tiny_model, engine="torch", device="cpu")
    calls = []

    def interrupted_on_the_second(image, **options):
        calls.append(image)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(image, **options)

    monkeypatch.setattr(cli, "_load_pipeline", lambda args: interrupted_on_the_second)
    code, out, err = run(capsys, "convert", MAN, WOMAN, EXAMPLES / "canada-003f.jpg", "-o", tmp_path / "out",
                         "--size", "128", "--json")
    assert code == 130
    report = json.loads(out)
    assert report["interrupted"] is True and report["error_type"] == "KeyboardInterrupt"
    assert [r["ok"] for r in report["results"]] == [True, False]
    assert report["results"][1]["error"] == "interrupted" and report["converted"] == 1
    assert Path(report["results"][0]["output"]).is_file()
    assert "interrupted" in err


def test_several_faces_are_said(capsys, tiny_model, tmp_path):
    group = tmp_path / "two people.jpg"
    man, woman = Image.open(MAN).convert("RGB"), Image.open(WOMAN).convert("RGB")
    woman = woman.resize((woman.width * 3 // 5, woman.height * 3 // 5))
    canvas = Image.new("RGB", (man.width + woman.width + 40, man.height), (200, 200, 200))
    canvas.paste(man, (0, 0))
    canvas.paste(woman, (man.width + 40, 60))
    canvas.save(group, quality=95)
    code, out, err = run(capsys, "convert", group, MAN, "-o", tmp_path / "out", "--model", tiny_model,
                         "--size", "128", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [r["faces_found"] for r in report["results"]] == [2, 1]
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {group}: 2 faces in the photo; the largest was used (crop the photo to choose "
                        "another)"]


@pytest.mark.parametrize("colour", ["rgb(300,2,3)", "rgb(1,2,999)", "300,2,3"])
def test_out_of_range_colour_is_a_bad_colour(capsys, colour, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["convert", str(MAN), "-o", str(tmp_path / "o.jpg"), "--background", colour])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--background" in err and "between 0 and 255" in err
    assert cli._colour("rgb(1,2,3)") == (1, 2, 3)


def test_no_finisher_flag_loads_the_pipeline_without_one(monkeypatch, tiny_model):
    from cyclegan_biz.pipeline import SelfieToBusinessPipeline

    seen = []
    real = SelfieToBusinessPipeline.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        seen.append(kwargs.get("finisher"))
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(SelfieToBusinessPipeline, "from_pretrained", classmethod(spy))
    for extra in ([], ["--no-finisher"]):
        args = cli.build_parser().parse_args(["convert", str(WOMAN), "-o", "x.jpg", "--model", str(tiny_model),
                                              *extra])
        cli._load_pipeline(args)
    assert seen == [True, False]
