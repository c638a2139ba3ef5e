"""The personal neutral baseline on real faces read by the committed face model."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from moodmusic import samples
from moodmusic.moods import MOODS
from moodmusic.pipeline import load_experts
from moodmusic.recognition.baseline import (
    REFERENCE_FILE,
    BaselineError,
    NeutralBaseline,
    geometric_mean,
    load_reference,
)
from moodmusic.vision import detect_faces_in_image

NEUTRAL, HAPPY = (MOODS.index(m) for m in ("neutral", "happy"))


@pytest.fixture(scope="module")
def read():
    experts = load_experts()
    assert experts.face is not None, experts.problems

    def face_probs(image: np.ndarray) -> np.ndarray:
        faces = detect_faces_in_image(image)
        assert faces, "no face found"
        return np.asarray(experts.face(faces[0].crop[None]))[0]

    return face_probs


def view(image: np.ndarray, dx: float, scale: float, mirror: bool) -> np.ndarray:
    """The photo shifted and scaled a little, as a camera frame of a person sitting still moves."""
    h, w = image.shape[:2]
    m = np.float32([[scale, 0, dx + (1 - scale) * w / 2], [0, scale, (1 - scale) * h / 2]])
    out = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return cv2.flip(out, 1) if mirror else out


def test_the_committed_reference_is_for_the_committed_weights_and_reads_neutral():
    reference = load_reference()
    assert reference.shape == (len(MOODS),) and abs(reference.sum() - 1) < 1e-4
    assert reference.argmax() == NEUTRAL  # a typical neutral face reads neutral to the expert


def test_a_resting_face_reads_neutral_against_her_own_neutral(read):
    """Grace Hopper's portrait, mirrored: her resting face as the expert sees it.

    The premise comes from the model's own raw reading, not from one model's
    quirk: whichever mood her resting face shows most above a typical neutral
    face (angry for the weights of 2026-12-06 and for the ones before them),
    calibrating on a few frames of it must lower that mood on held-out frames
    of the same resting face, raise neutral and make them read neutral, while
    another person's smile keeps reading happy.
    """
    hopper = samples.face_photo(samples.HOPPER)
    resting = np.array([read(view(hopper, dx, s, mirror=True)) for dx in (-20, 0, 20) for s in (0.9, 1.1)])
    baseline = NeutralBaseline.from_probs(resting, load_reference())
    assert baseline.frames == 6
    moods = [i for i in range(len(MOODS)) if i != NEUTRAL]
    over = min(moods, key=lambda i: baseline.shift[i])  # the mood her resting face over-shows
    # the premise, on the real face: she shows it at least 1.35x as much as a typical neutral face
    assert baseline.shift[over] < -0.3, (MOODS[over], baseline.shift.round(2), resting.round(2))

    held_out = np.array([read(view(hopper, dx, 1.0, mirror=True)) for dx in (-10, 10)])
    relative = baseline.apply(held_out)
    assert (relative.argmax(1) == NEUTRAL).all(), relative.round(2)
    assert (relative[:, over] < 0.75 * held_out[:, over]).all(), (MOODS[over], held_out.round(2), relative.round(2))
    assert (relative[:, NEUTRAL] > held_out[:, NEUTRAL] + 0.05).all(), (held_out.round(2), relative.round(2))

    smile = read(samples.face_photo())
    assert smile.argmax() == HAPPY and baseline.apply(smile).argmax() == HAPPY


def test_the_correction_is_the_prior_shift_in_log_space(read):
    rows = np.array([read(view(samples.face_photo(samples.HOPPER), dx, 1.0, False)) for dx in (-20, -10, 0, 10, 20)])
    reference = load_reference()
    baseline = NeutralBaseline.from_probs(rows, reference)
    p = read(samples.face_photo())
    expected = p * reference / geometric_mean(rows)
    np.testing.assert_allclose(baseline.apply(p), expected / expected.sum(), rtol=1e-4)
    both = baseline.apply(np.stack([p, rows[0]]).astype(np.float32))
    assert both.shape == (2, len(MOODS)) and both.dtype == np.float32
    np.testing.assert_allclose(both.sum(1), 1.0, rtol=1e-5)
    # the person's own average neutral frame maps onto the typical neutral face
    np.testing.assert_allclose(baseline.apply(geometric_mean(rows)), reference / reference.sum(), atol=1e-6)


def test_too_few_frames_or_the_wrong_shape_is_a_clear_value_error(read):
    one = read(samples.face_photo(samples.HOPPER))
    with pytest.raises(ValueError, match="at least 5 frames with a face; got 1"):
        NeutralBaseline.from_probs(one, load_reference())
    with pytest.raises(ValueError, match="at least 5 frames with a face; got 0"):
        NeutralBaseline.from_probs(np.zeros((0, len(MOODS))), load_reference())
    assert NeutralBaseline.from_probs(one, load_reference(), min_frames=1).frames == 1  # a still photo may
    with pytest.raises(ValueError, match="over 6 moods"):
        NeutralBaseline.from_probs(np.tile(one, (5, 1)), load_reference()).apply(np.ones(4))


def test_a_missing_or_stale_reference_is_refused_with_what_to_run(tmp_path):
    from moodmusic.config import MODELS_DIR

    with pytest.raises(BaselineError, match="is missing.*train neutral"):
        load_reference(tmp_path)
    record = json.loads((MODELS_DIR / REFERENCE_FILE).read_text())
    (tmp_path / REFERENCE_FILE).write_text(json.dumps(record))
    for name in record["models"]:
        shutil.copy(MODELS_DIR / name, tmp_path / name)
    np.testing.assert_allclose(load_reference(tmp_path), record["reference"])
    (tmp_path / "face_expert.pt").write_bytes(b"retrained")  # other weights: the reference no longer fits
    with pytest.raises(BaselineError, match="other face weights.*train neutral"):
        load_reference(tmp_path)
    record["moods"] = record["moods"][::-1]
    (tmp_path / REFERENCE_FILE).write_text(json.dumps(record))
    with pytest.raises(BaselineError, match="is for the moods"):
        load_reference(tmp_path)


def test_the_committed_reference_is_what_the_command_computes(shared_data, tmp_path):
    """models/neutral_reference.json is written by `train neutral`, not typed: recomputing it gives it again."""
    from moodmusic.config import MODELS_DIR
    from moodmusic.training.neutral import NeutralConfig, fit_reference

    path, record = fit_reference(NeutralConfig(data=shared_data, out=tmp_path / REFERENCE_FILE))
    committed = json.loads((MODELS_DIR / REFERENCE_FILE).read_text())
    assert record["faces"] == committed["faces"] > 500 and record["models"] == committed["models"]
    np.testing.assert_allclose(record["reference"], committed["reference"], atol=2e-4)
