"""The face-alignment (FAN, 68 points) landmark backend, offline.

Without the real weights (no internet here) this checks, honestly, what can be checked: the error a user without the
files gets, and, with randomly initialised networks of the right architecture saved exactly where and how
face-alignment loads them, that the backend loads and yields well-formed 68-point faces that the rest of the
pipeline accepts. The landmark *positions* are garbage with random weights and are not checked.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.error import URLError

import cv2
import numpy as np
import pytest

face_alignment = pytest.importorskip("face_alignment")

import face_alignment.utils  # noqa: E402, F811
import torch  # noqa: E402
from face_alignment.models import FAN  # noqa: E402

from cyclegan_biz.errors import MissingWeightsError, NoFaceError  # noqa: E402
from cyclegan_biz.vision import face_alignment_backend as fab  # noqa: E402
from cyclegan_biz.vision import landmarks as face_module  # noqa: E402
from cyclegan_biz.vision.geometry import CANONICAL_EYE_CENTER, align_face  # noqa: E402
from cyclegan_biz.vision.landmarks import Face, detect_face, face_mask, get_backend, reset_backends  # noqa: E402

FAN_URL = fab.fan_url()
FAN_FILE = Path(FAN_URL.split("?")[0]).name
GROUPS = {
    "eye_a": list(range(36, 42)),
    "eye_b": list(range(42, 48)),
    "mouth": list(range(48, 68)),
    "brows": list(range(17, 27)),
    "outline": list(range(0, 17)),
}


def use_hub_dir(monkeypatch: pytest.MonkeyPatch, path: Path) -> Path:
    """Point torch.hub (hence face-alignment) at ``path``; monkeypatch restores the previous setting."""
    monkeypatch.setattr(torch.hub, "_hub_dir", torch.hub._hub_dir)
    torch.hub.set_dir(str(path))
    return path / "checkpoints"


@pytest.fixture
def fresh_backends():
    """``get_backend`` caches one instance per name: start and end each test without one."""
    reset_backends()
    yield
    reset_backends()


@pytest.fixture
def downloads(monkeypatch):
    """No network: every download attempt is recorded and fails at once, like a machine without internet."""
    calls: list[tuple[str, str]] = []

    def refuse(url, dst, *args, **kwargs):
        calls.append((url, str(dst)))
        raise URLError("[Errno -3] Temporary failure in name resolution (test: offline)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(face_alignment.utils, "download_url_to_file", refuse)
    return calls


@pytest.fixture(scope="module")
def random_fan_file(tmp_path_factory) -> Path:
    """A randomly initialised 2D-FAN-4 state dict, in the format face-alignment 1.5 loads (torch.load)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("fan") / FAN_FILE
    torch.save(FAN(4).state_dict(), path)
    return path


# --- (a) without the weights --------------------------------------------------------------------------------------
def test_registered_with_face_module():
    assert face_module._BACKENDS["face-alignment"] is fab.FaceAlignmentBackend
    assert fab.FaceAlignmentBackend.name == "face-alignment"


def test_missing_weights_error_says_what_to_put_where(tmp_path, monkeypatch, downloads, fresh_backends):
    checkpoints = use_hub_dir(monkeypatch, tmp_path / "hub")
    with pytest.raises(MissingWeightsError) as caught:
        get_backend("face-alignment")
    message = str(caught.value)
    assert FAN_FILE in message
    assert str(checkpoints) in message
    assert FAN_URL in message
    assert "download failed" in message
    # The real download path was tried, once, for the right file in the right place.
    assert downloads == [(FAN_URL, str(checkpoints / FAN_FILE))]
    assert not any(checkpoints.iterdir())  # no half-written file left behind
    # The failure is not cached: the next call tries again.
    with pytest.raises(MissingWeightsError):
        get_backend("face-alignment")
    assert len(downloads) == 2


def test_detect_face_with_missing_weights(tmp_path, monkeypatch, downloads, fresh_backends, example_rgb):
    use_hub_dir(monkeypatch, tmp_path / "hub")
    with pytest.raises(MissingWeightsError, match=FAN_FILE):
        detect_face(example_rgb, backend="face-alignment")


def test_no_download_when_told_not_to(tmp_path, monkeypatch, downloads):
    checkpoints = use_hub_dir(monkeypatch, tmp_path / "hub")
    with pytest.raises(MissingWeightsError, match="put them into the folder") as caught:
        fab.FaceAlignmentBackend(download=False)
    assert downloads == []
    assert str(checkpoints) in str(caught.value) and "download failed" not in str(caught.value)


def test_downloading_detectors_list_their_files_too(tmp_path, monkeypatch, downloads):
    checkpoints = use_hub_dir(monkeypatch, tmp_path / "hub")
    with pytest.raises(MissingWeightsError) as caught:
        fab.FaceAlignmentBackend(detector="sfd")
    message = str(caught.value)
    assert FAN_FILE in message and "s3fd-619a316812.pth" in message and str(checkpoints) in message
    assert [url for url, _ in downloads] == [FAN_URL, "https://www.adrianbulat.com/downloads/python-fan/s3fd-619a316812.pth"]
    # Ours and dlib's HOG detector need nothing but FAN.
    assert [url for url, _ in fab.required_files("mediapipe")] == [FAN_URL]
    assert [url for url, _ in fab.required_files("dlib")] == [FAN_URL]


def test_download_fills_the_checkpoint_folder(tmp_path, monkeypatch, random_fan_file):
    checkpoints = use_hub_dir(monkeypatch, tmp_path / "hub")
    fetched = []

    def fake_download(url, dst, *args, **kwargs):
        fetched.append(url)
        shutil.copy(random_fan_file, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    assert fab.ensure_weights() == [checkpoints / FAN_FILE]
    assert (checkpoints / FAN_FILE).stat().st_size == random_fan_file.stat().st_size
    assert fab.ensure_weights() == [checkpoints / FAN_FILE]  # present now: no second download
    assert fetched == [FAN_URL]


def test_corrupt_weights_file_is_reported(tmp_path, monkeypatch, downloads):
    checkpoints = use_hub_dir(monkeypatch, tmp_path / "hub")
    checkpoints.mkdir(parents=True)
    (checkpoints / FAN_FILE).write_bytes(b"<html>proxy login page</html>")
    with pytest.raises(MissingWeightsError, match="corrupt"):
        fab.FaceAlignmentBackend()
    assert downloads == []


# --- (b) with randomly initialised networks -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_weights(tmp_path_factory, random_fan_file):
    """Random FAN weights in a temporary torch hub folder; get_backend("face-alignment") builds on them."""
    with pytest.MonkeyPatch.context() as patch:
        checkpoints = use_hub_dir(patch, tmp_path_factory.mktemp("hub"))
        checkpoints.mkdir(parents=True)
        shutil.copy(random_fan_file, checkpoints / FAN_FILE)

        def refuse(*args, **kwargs):
            raise AssertionError("no download may happen when the weights are present")

        patch.setattr(torch.hub, "download_url_to_file", refuse)
        patch.setattr(face_alignment.utils, "download_url_to_file", refuse)
        # face-alignment's heatmap decoding is numba-compiled: 15+ s of compiling on 2 cores for one call. Run the
        # very same Python function uncompiled instead.
        for name in ("_get_preds_fromhm", "transform_np"):
            compiled = getattr(face_alignment.utils, name, None)
            if hasattr(compiled, "py_func"):
                patch.setattr(face_alignment.utils, name, compiled.py_func)
        patch.setattr(fab.FaceAlignmentBackend, "flip_input", False)  # one FAN pass per face, not two
        reset_backends()
        yield checkpoints
        reset_backends()


@pytest.fixture(scope="module")
def backend(fake_weights):
    return get_backend("face-alignment")


@pytest.fixture(scope="module")
def mesh_faces(example_photos):
    from cyclegan_biz.imageio import load_rgb_array

    return [(image, detect_face(image)) for image in map(load_rgb_array, example_photos)]


def iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def brows_to_chin_box(face: Face) -> tuple[float, float, float, float]:
    """The box FAN expects (the 68 landmarks' bounding box), estimated from the mediapipe mesh."""
    top = face.points[face.groups["brows"], 1].min()
    outline = face.points[face.groups["outline"]]
    low = outline[outline[:, 1] >= top]
    return low[:, 0].min(), top, low[:, 0].max(), outline[:, 1].max()


def test_backend_loads_from_the_checkpoint_folder(backend, fake_weights):
    assert isinstance(backend, fab.FaceAlignmentBackend)
    assert backend.name == "face-alignment"
    assert get_backend("face-alignment") is backend  # created once
    # The random weights really are what was loaded.
    state = torch.load(fake_weights / FAN_FILE, weights_only=True)
    loaded = backend._fa.face_alignment_net.state_dict()
    assert set(state) == set(loaded)
    key = next(k for k in state if k.endswith("weight"))
    assert torch.equal(state[key], loaded[key])


@pytest.fixture(scope="module")
def fa_face(backend, example_photos):
    """``detect_face`` through the face-alignment backend on an example (one FAN pass: a few seconds on CPU)."""
    from cyclegan_biz.imageio import load_rgb_array

    image = load_rgb_array(example_photos[0])
    return image, detect_face(image, backend="face-alignment", min_face_size=0)


def test_detect_returns_68_point_faces(fa_face, backend, monkeypatch):
    image, face = fa_face
    assert isinstance(face, Face) and face.backend == "face-alignment"
    assert face.points.shape == (68, 2) and face.points.dtype == np.float32
    assert np.isfinite(face.points).all()
    assert {k: v.tolist() for k, v in face.groups.items()} == GROUPS
    assert len(face.eye_centers()) == 2 and face.mouth_center().shape == (2,)
    # Photo pixels (not heatmap or crop coordinates): inside the square FAN cropped around our box.
    (box,) = backend.boxes(image)
    width, height = box[2] - box[0], box[3] - box[1]
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2 - 0.12 * height])
    half = 100 * (width + height) / 195  # face-alignment: crop side 200 x scale, scale = (w + h) / 195
    assert (np.abs(face.points - centre) <= half + 2).all()
    assert np.ptp(face.points, axis=0).min() > 0.1 * half  # spread out, not all on one heatmap cell
    # detect_face used backend.detect, which ran FAN once on our box (and not face-alignment's own detector).
    seen = []
    monkeypatch.setattr(backend._fa, "get_landmarks_from_image",
                        lambda img, detected_faces=None: seen.append(detected_faces) or [face.points] * 2)
    faces = backend.detect(image)
    assert len(faces) == 2 and all(f.points.shape == (68, 2) for f in faces)
    assert len(seen) == 1 and len(seen[0]) == 1 and len(seen[0][0]) == 4


def test_detect_face_and_align_end_to_end(fa_face):
    image, face = fa_face
    assert face.size() > 0
    alignment = align_face(face, 64)
    assert np.isfinite(alignment.matrix).all()
    crop_face = face.transformed(alignment.matrix)
    left, right = crop_face.eye_centers()
    np.testing.assert_allclose((left + right) / 2, np.array(CANONICAL_EYE_CENTER) * 64, atol=1.0)
    assert abs(left[1] - right[1]) < 0.5
    crop = alignment.warp(image)
    assert crop.shape == (64, 64, 3)
    mask = face_mask(crop.shape, crop_face)
    assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 1}


def test_no_face(backend, no_face_rgb):
    assert backend.boxes(no_face_rgb) == []
    assert backend.detect(no_face_rgb) == []
    with pytest.raises(NoFaceError):
        detect_face(no_face_rgb, backend="face-alignment")


@pytest.fixture(scope="module")
def mediapipe_boxes():
    return fab.FaceBoxes("mediapipe")


def test_backend_uses_download_free_boxes(backend, mediapipe_boxes, mesh_faces):
    image, _ = mesh_faces[1]
    np.testing.assert_allclose(backend.boxes(image), mediapipe_boxes(image))


@pytest.mark.parametrize("detector", ["mediapipe", "dlib"])
def test_boxes_match_the_box_fan_was_trained_on(detector, mediapipe_boxes, mesh_faces):
    """FAN's accuracy depends on the box: it must approximate the bounding box of the 68 landmarks."""
    finder = mediapipe_boxes if detector == "mediapipe" else fab.FaceBoxes("dlib")
    for image, mesh_face in mesh_faces if detector == "mediapipe" else mesh_faces[:2]:  # dlib's HOG is slow
        boxes = finder(image)
        assert len(boxes) == 1
        assert iou(boxes[0], brows_to_chin_box(mesh_face)) > 0.75


def test_boxes_of_several_faces_large_and_tight_photos(mediapipe_boxes, mesh_faces):
    (image, mesh_face), (other, _) = mesh_faces[0], mesh_faces[2]
    (reference,) = mediapipe_boxes(image)
    # Two people side by side: two boxes.
    small = cv2.resize(other, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    canvas = np.full((image.shape[0], image.shape[1] + small.shape[1], 3), 200, np.uint8)
    canvas[:, : image.shape[1]] = image
    canvas[: small.shape[0], image.shape[1]:] = small
    assert len(mediapipe_boxes(canvas)) == 2
    # A big photo is detected on a reduced copy; boxes come back in full-size pixels.
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    assert max(big.shape[:2]) > mediapipe_boxes.max_side
    (big_box,) = mediapipe_boxes(big)
    np.testing.assert_allclose(big_box, 3 * reference, atol=0.03 * 3 * (reference[2] - reference[0]))
    # A tight crop around the face still gets its box (retry with a margin).
    x0, y0, x1, y1 = (int(v) for v in mesh_face.box)
    tight = np.ascontiguousarray(image[y0:y1, x0:x1])
    (tight_box,) = mediapipe_boxes(tight)
    assert iou(tight_box, reference - [x0, y0, x0, y0]) > 0.6
    assert mediapipe_boxes(np.full((200, 300, 3), 90, np.uint8)) == []


def test_unknown_detector_is_refused(tmp_path, monkeypatch, downloads):
    use_hub_dir(monkeypatch, tmp_path / "hub")
    with pytest.raises(ValueError, match="Unknown face detector"):
        fab.FaceAlignmentBackend(detector="nope")
    with pytest.raises(ValueError):
        fab.FaceBoxes("sfd")
    assert downloads == []
