"""Face heatmaps and the voice's windows on real inputs: the heatmap must point where the expert looks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from moodmusic.pipeline import load_experts
from moodmusic.recognition.explain import PATCH, hottest_square, occluded, occlusion, overlay, voice_contributions
from moodmusic.vision import detect_faces_in_image

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"


@pytest.fixture(scope="module")
def face():
    experts = load_experts()
    assert experts.face is not None, experts.problems
    return experts.face


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    """The aligned crop of each real face photo, and its mirror image (another real face view)."""
    out = []
    for path in sorted(FACES.glob("*.jpg")):
        faces = detect_faces_in_image(cv2.imread(str(path)))
        assert faces, path
        out += [faces[0].crop, np.ascontiguousarray(faces[0].crop[:, ::-1])]
    return out


def _hide(crop: np.ndarray, y: int, x: int, how: str) -> np.ndarray:
    if how == "blur":  # the region's detail gone, its brightness kept
        out = crop.copy()
        out[y:y + PATCH, x:x + PATCH] = cv2.GaussianBlur(crop, (0, 0), 4)[y:y + PATCH, x:x + PATCH]
        return out
    return occluded(crop, y, x, fill=0 if how == "black" else None)


def _effects(face, crop: np.ndarray, how: str, rng) -> tuple[float, np.ndarray]:
    """(drop in p(mood) hiding the heatmap's hottest 12x12 square, drops hiding 30 random squares)."""
    heat, mood = occlusion(face, crop)
    p0 = face(crop[None])[0, mood]
    y, x = hottest_square(heat)
    hot = float(p0 - face(_hide(crop, y, x, how)[None])[0, mood])
    spots = rng.integers(0, 48 - PATCH + 1, size=(30, 2))
    return hot, p0 - face(np.stack([_hide(crop, a, b, how) for a, b in spots]))[:, mood]


def test_hiding_the_hottest_region_moves_the_mood_more_than_hiding_random_regions(face, crops):
    """The heatmap is not decorative: on every real face, its hottest 12x12 square hidden (mean grey)
    costs the chosen mood more probability than 30 random squares of the same size on average,
    and more than three in four of them."""
    rng = np.random.default_rng(0)
    for crop in crops:
        hot, rand = _effects(face, crop, "mean", rng)
        assert hot > rand.mean() + 0.02, (hot, rand.mean())
        assert hot > np.percentile(rand, 75), (hot, np.percentile(rand, 75))


@pytest.mark.parametrize("how", ["black", "blur"])
def test_the_hottest_region_matters_however_it_is_hidden(face, crops, how):
    """Hidden another way than the heatmap was probed with (black, or blurred), the hottest square
    still costs the mood far more than random squares, averaged over the faces: the map names a
    region of the face, not a quirk of its own probe. (Per face it can differ: black also
    darkens the whole crop, and a broad smile survives a blur of one corner.)"""
    rng = np.random.default_rng(1)
    hots, rands = zip(*(_effects(face, crop, how, rng) for crop in crops))
    hot, rand = np.mean(hots), np.mean([r.mean() for r in rands])
    # Relative, not absolute: a fixed "+0.1" measured how much this model minds blur at all, not
    # whether the map points at the right place. The face expert trained with blur augmentation
    # (2026-12-06, issue 25) minds a blurred square less wherever it is (hot 0.10 against random
    # 0.04 with blur; 0.15 against 0.00 with black), so the test asks for the hottest square to cost
    # at least twice what a random square costs, and a clear amount more (a decorative map: ratio ~1).
    assert hot > 2 * rand and hot > rand + 0.03, (hots, [r.mean() for r in rands])


def test_the_heatmap_belongs_to_its_face(face, crops):
    """Mirroring the face mirrors its heatmap (closely): the map follows the face, not fixed positions."""
    a, mood = occlusion(face, crops[0])
    b, _ = occlusion(face, crops[1], mood=mood)
    same = np.corrcoef(a.ravel(), b[:, ::-1].ravel())[0, 1]
    assert same > 0.5, same


def test_overlay_is_an_rgb_picture_of_the_crop(face, crops):
    heat, _ = occlusion(face, crops[0])
    pic = overlay(crops[0], heat)
    assert pic.shape == (48, 48, 3) and pic.dtype == np.uint8
    cold = heat <= 0
    if cold.any():  # where nothing argued for the mood, the crop shows through as grey
        grey = pic[cold]
        assert np.abs(grey[:, 0].astype(int) - grey[:, 2]).max() <= 1


def test_voice_contributions_add_up_to_the_clips_voice_opinion():
    probs = np.array([[0.1, 0.7, 0.2], [np.nan] * 3, [0.5, 0.3, 0.2], [0.2, 0.6, 0.2]])
    weights = np.array([1.0, 0.0, 0.5, 1.0])
    share = voice_contributions(probs, weights, 1)
    clip = np.nansum(probs * weights[:, None], 0) / weights.sum()
    assert share.sum() == pytest.approx(clip[1])
    assert share[1] == 0 and share[0] > share[2]
    assert voice_contributions(np.full((2, 3), np.nan), np.ones(2), 0).tolist() == [0, 0]
