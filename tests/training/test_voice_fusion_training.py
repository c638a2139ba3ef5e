"""Training the voice expert and the fusion model: the split, the live-path augmentation, the cache, the commands."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from moodmusic.audio import FEATURE_NAMES, FEATURE_VERSION, SpeakerAdapter, clip_features
from moodmusic.audio.speaker import prior_from_meta
from moodmusic.cli import main
from moodmusic.moods import MOOD_INDEX, MOODS
from moodmusic.recognition.avfusion import AVFusionModel
from moodmusic.recognition.voice_expert import VoiceExpert
from moodmusic.training.augment import SpeechAugment, augment_speech, opus_round_trip
from moodmusic.training.datasets import SPLIT_ACTORS, list_clips, same_label_pairs, split_of
from moodmusic.training.features import featurize, split_windows
from moodmusic.training.fusion import au_sets, modality_dropout
from moodmusic.training.scoring import clip_probs

SPEECH = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
# Three real recordings standing in for three moods; RAVDESS emotion codes 05 angry, 04 sad, 03 happy, 07 disgust.
CAST = {"fox": "05", "rainbow": "04", "gaps": "03"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A tiny shared-data folder laid out like the real one: RAVDESS actors 1, 17, 21 and a TESS speaker."""
    root = tmp_path_factory.mktemp("data")
    for actor in (1, 17, 21):
        d = root / "speech" / "ravdess" / f"Actor_{actor:02d}"
        d.mkdir(parents=True)
        for name, code in CAST.items():
            shutil.copy(SPEECH / f"{name}.flac", d / f"03-01-{code}-01-01-01-{actor:02d}.flac")
        shutil.copy(SPEECH / "fox.flac", d / f"03-01-07-01-01-01-{actor:02d}.flac")  # disgust: dropped
    for label, name in (("angry", "fox"), ("sad", "rainbow"), ("disgust", "gaps")):
        d = root / "speech" / "tess" / f"OAF_{label}"
        d.mkdir(parents=True)
        shutil.copy(SPEECH / f"{name}.flac", d / f"OAF_word_{label}.flac")
    au = root / "ravdess_av_features"
    au.mkdir()
    with open(au / "ravdess_au35.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["clip_id", "matching_audio_id", "actor", "emotion"] + [f"AU{i:02d}_r" for i in range(35)])
        names = {"05": "angry", "04": "sad", "03": "happy", "07": "disgust"}
        for actor in (1, 17, 21):
            for code, emotion in names.items():
                au_row = np.eye(35)[int(code)] * 3
                w.writerow([f"01-01-{code}-01-01-01-{actor:02d}", f"03-01-{code}-01-01-01-{actor:02d}", actor, emotion,
                            *au_row])
    return root


def test_the_split_is_by_actor_and_tess_only_trains():
    train, val, test = (set(SPLIT_ACTORS[k]) for k in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(range(1, 25))
    assert test == {21, 22, 23, 24}
    assert split_of(101) == "train" and split_of(21) == "test"


def test_clips_are_listed_with_moods_and_disgust_dropped(corpus):
    clips = list_clips(corpus)
    assert len(clips) == 3 * 3 + 2
    assert {c.mood for c in clips} == {"angry", "sad", "happy"}
    assert {c.actor for c in clips if c.corpus == "ravdess"} == {1, 17, 21}
    assert {(Path(c.path).name, c.mood) for c in clips if c.corpus == "tess"} == {
        ("OAF_word_angry.flac", "angry"), ("OAF_word_sad.flac", "sad")}


def test_augmentation_adds_noise_at_the_asked_snr():
    x = sf.read(SPEECH / "rainbow.flac", dtype="float32")[0] * 0.3
    spec = SpeechAugment(snr_db=(10.0, 10.0), gain_db=(0.0, 0.0), max_offset_s=0.0, opus_prob=0.0)
    y = augment_speech(x, np.random.default_rng(0), spec)
    noise = y - x
    frame_rms = np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(400) / 400, mode="valid"))
    snr = 20 * np.log10(np.percentile(frame_rms, 90) / np.sqrt(np.mean(noise.astype(np.float64) ** 2)))
    assert snr == pytest.approx(10.0, abs=0.5)


def test_augmentation_shifts_the_window_start_and_changes_level():
    x = sf.read(SPEECH / "rainbow.flac", dtype="float32")[0] * 0.1
    spec = SpeechAugment(snr_db=(40.0, 40.0), gain_db=(12.0, 12.0), max_offset_s=0.5, opus_prob=0.0)
    y = augment_speech(x, np.random.default_rng(1), spec)
    assert len(x) - 8000 <= len(y) < len(x)
    ratio = np.sqrt(np.mean(y**2) / np.mean(x[len(x) - len(y):] ** 2))
    assert 20 * np.log10(ratio) == pytest.approx(12.0, abs=0.5)


def test_an_opus_round_trip_keeps_the_speech_in_place():
    x = sf.read(SPEECH / "fox.flac", dtype="float32")[0]
    y = opus_round_trip(x)
    assert y.shape == x.shape
    assert np.corrcoef(x, y)[0, 1] > 0.9  # aligned: a shifted copy would correlate far less
    assert not np.allclose(x, y, atol=1e-3)  # and it is really coded


def test_features_are_computed_once_then_read_from_the_cache(corpus, tmp_path):
    clips = [c for c in list_clips(corpus) if c.actor == 1]
    first = featurize(clips, tmp_path, copies=1, seed=0, n_jobs=1, progress=False)
    expected = sum(len(clip_features(sf.read(c.path, dtype="float32")[0])) for c in clips)
    assert (first.copy == 0).sum() == expected
    assert (first.copy == 1).sum() > 0
    assert [first.y[first.clip == i][0] for i in range(len(clips))] == [MOOD_INDEX[c.mood] for c in clips]
    manifest = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert manifest["feature_version"] == FEATURE_VERSION and manifest["n_files"] == len(clips)
    np.save(tmp_path / "marker.npy", first.x)
    again = featurize(clips, tmp_path, copies=1, seed=0, n_jobs=1, progress=False)
    assert np.array_equal(again.x, first.x) and np.array_equal(again.clip, first.clip)


def test_clip_level_probabilities_average_the_windows():
    probs = np.array([[1, 0], [0, 1], [1, 0], [0.2, 0.8]], dtype=float)
    ids, cp = clip_probs(probs, np.array([7, 7, 3, 3]))
    assert ids.tolist() == [3, 7]
    assert np.allclose(cp, [[0.6, 0.4], [0.5, 0.5]])


def test_train_voice_writes_a_model_that_learnt_its_clips(corpus, tmp_path):
    out = tmp_path / "voice.pt"
    rc = main(["train", "voice", "--data", str(corpus), "--out", str(out), "--cache", str(tmp_path / "c"),
               "--run-dir", str(tmp_path / "run"), "--copies", "0", "--epochs", "8", "--batch-size", "8",
               "--patience", "8", "--jobs", "1", "--no-progress"])
    assert rc == 0
    expert = VoiceExpert.load(out, feature_version=FEATURE_VERSION)
    assert expert.meta["command"].startswith("python -m moodmusic train voice ")
    assert f"--data {corpus}" in expert.meta["command"] and "--epochs 8" in expert.meta["command"]
    assert expert.meta["split"]["test"] == [21, 22, 23, 24]
    assert (tmp_path / "run" / "last.pt").is_file()  # resumable
    prior = prior_from_meta(expert.meta["speaker_norm"])  # trained on features measured against the speaker
    assert prior.weight == 128 and prior.mean.shape == (len(FEATURE_NAMES),)
    for name, code in CAST.items():
        feats = clip_features(sf.read(SPEECH / f"{name}.flac", dtype="float32")[0])
        mood = {"05": "angry", "04": "sad", "03": "happy"}[code]
        first_words = SpeakerAdapter(prior).normalise(feats, learn=False)
        assert MOODS[int(expert(first_words).mean(0).argmax())] == mood


def test_train_voice_without_speaker_adaptation_reads_raw_features(corpus, tmp_path):
    out = tmp_path / "voice.pt"
    rc = main(["train", "voice", "--data", str(corpus), "--out", str(out), "--cache", str(tmp_path / "c"),
               "--run-dir", str(tmp_path / "run"), "--copies", "0", "--epochs", "8", "--batch-size", "8",
               "--patience", "8", "--jobs", "1", "--speaker-weight", "0", "--no-progress"])
    assert rc == 0
    expert = VoiceExpert.load(out, feature_version=FEATURE_VERSION)
    assert expert.meta["speaker_norm"] is None and "--speaker-weight 0.0" in expert.meta["command"]
    feats = clip_features(sf.read(SPEECH / "fox.flac", dtype="float32")[0])
    assert MOODS[int(expert(feats).mean(0).argmax())] == "angry"


def test_train_voice_with_members_writes_one_averaged_checkpoint(corpus, tmp_path):
    out = tmp_path / "voice.pt"
    rc = main(["train", "voice", "--data", str(corpus), "--out", str(out), "--cache", str(tmp_path / "c"),
               "--run-dir", str(tmp_path / "run"), "--copies", "0", "--epochs", "3", "--batch-size", "8",
               "--patience", "3", "--jobs", "1", "--members", "2", "--seed", "5", "--no-progress"])
    assert rc == 0
    expert = VoiceExpert.load(out, feature_version=FEATURE_VERSION)
    assert expert.meta["arch"]["members"] == 2 and len(expert.meta["best_epoch"]) == 2
    assert "--members 2" in expert.meta["command"] and expert.meta["seed"] == 5
    assert all((tmp_path / "run" / f"member{i}" / "last.pt").is_file() for i in range(2))  # each resumable
    a, b = (m.head.weight.detach().numpy() for m in expert.net.members)
    assert not np.allclose(a, b)  # different seeds, different nets
    feats = clip_features(sf.read(SPEECH / "fox.flac", dtype="float32")[0])
    assert np.allclose(expert(feats).sum(1), 1, atol=1e-5)


def test_train_voice_refuses_zero_members(corpus, tmp_path, capsys):
    assert main(["train", "voice", "--data", str(corpus), "--cache", str(tmp_path / "c"), "--copies", "0",
                 "--jobs", "1", "--members", "0", "--out", str(tmp_path / "v.pt"), "--no-progress"]) == 2
    assert "--members" in capsys.readouterr().err


def test_train_without_data_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "voice", "--data", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--data" in err and "Traceback" not in err


def test_same_label_pairs_use_every_example_of_the_larger_side():
    y_face = np.array([0, 0, 0, 1, 2, 2])
    y_voice = np.array([0, 1, 1, 1, 2])
    f, v = same_label_pairs(y_face, y_voice, np.random.default_rng(0))
    assert np.array_equal(y_face[f], y_voice[v])
    assert sorted(f[y_face[f] == 0]) == [0, 1, 2] and sorted(v[y_voice[v] == 1]) == [1, 2, 3]


def test_modality_dropout_never_removes_both():
    import torch

    x = torch.ones(2000, 3 + 4 + 2)
    out = modality_dropout(3, 4, p=0.5)(x, torch.Generator().manual_seed(0))
    face_on, voice_on = out[:, 7], out[:, 8]
    assert bool(((face_on + voice_on) >= 1).all())
    assert 0.15 < float((face_on == 0).float().mean()) < 0.35
    assert bool((out[face_on == 0, :3] == 0).all()) and bool((out[voice_on == 0, 3:7] == 0).all())


def test_each_speech_window_is_paired_with_the_action_units_of_its_performance(corpus, tmp_path):
    windows = split_windows(list_clips(corpus), tmp_path, copies=0, seed=0, n_jobs=1, progress=False)
    sets = au_sets(corpus, windows)
    assert set(sets) == {"train", "val", "test"}
    for s in sets.values():
        # the tiny table puts a 3 at the column of the emotion code: it must match the window's mood
        code = {"angry": 5, "sad": 4, "happy": 3}
        assert all(row.argmax() == code[MOODS[y]] for row, y in zip(s.face, s.y))
    assert len(sets["train"].y) == sum(1 for _ in windows["train"].y[
        [windows["train"].clips[i].corpus == "ravdess" for i in windows["train"].clip]])


def test_train_fusion_au_compares_every_strategy(corpus, tmp_path):
    out = tmp_path / "au.json"
    rc = main(["train", "fusion", "--au", "--data", str(corpus), "--au-out", str(out), "--cache", str(tmp_path / "c"),
               "--copies", "0", "--epochs", "3", "--batch-size", "8", "--seeds", "1", "--jobs", "1", "--no-progress"])
    assert rc == 0
    table = json.loads(out.read_text())["table"]
    assert list(table) == ["face (AU) only", "voice only", "late", "concat", "gated"]
    assert all(0 <= r["accuracy"] <= 1 and r["n_clips"] == 3 for r in table.values())


def test_the_deployed_fusion_model_needs_the_face_expert(corpus, tmp_path, capsys):
    rc = main(["train", "fusion", "--data", str(corpus), "--models", str(tmp_path), "--out", str(tmp_path / "f.pt")])
    assert rc == 2 and "face_expert.pt" in capsys.readouterr().err
    assert not (tmp_path / "f.pt").exists()
    assert AVFusionModel  # the class the command would write


def test_speaker_settings_and_actor_folds_are_read_as_documented():
    from moodmusic.training.crossval import actor_folds, parse_speaker_setting

    assert parse_speaker_setting("128/128") == (128.0, 128.0)
    assert parse_speaker_setting("64/inf") == (64.0, float("inf")) and parse_speaker_setting("0")[0] == 0.0
    for bad in ("many", "-1/5", "64/0"):
        with pytest.raises(ValueError, match="speaker setting"):
            parse_speaker_setting(bad)
    actors = np.array([1, 1, 2, 3, 4, 5, 6, 7, 8, 101, 17])  # TESS (101) and a validation actor never fold
    assert [f.tolist() for f in actor_folds(actors, 4)] == [[1, 2], [3, 4], [5, 6], [7, 8]]
    with pytest.raises(ValueError, match="at least 4 RAVDESS training actors"):
        actor_folds(np.array([1, 2, 101]), 4)


def test_speaker_cv_needs_enough_training_actors_and_says_so(corpus, tmp_path, capsys):
    rc = main(["train", "voice", "--data", str(corpus), "--cache", str(tmp_path / "c"), "--copies", "0",
               "--jobs", "1", "--run-dir", str(tmp_path / "run"), "--speaker-cv", "0", "64/128", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "4 folds need at least 4 RAVDESS training actors, found 1" in err and "Traceback" not in err
    assert main(["train", "voice", "--data", str(corpus), "--speaker-cv", "lots", "--no-progress"]) == 2
    assert "a speaker setting is WEIGHT/MEMORY" in capsys.readouterr().err


def test_speaker_cv_compares_settings_on_folds_of_training_actors(corpus, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(corpus, data)
    second = data / "speech" / "ravdess" / "Actor_02"  # a second training actor: two folds
    second.mkdir()
    for f in (data / "speech" / "ravdess" / "Actor_01").iterdir():
        shutil.copy(f, second / f.name.replace("-01.flac", "-02.flac"))
    rc = main(["train", "voice", "--data", str(data), "--cache", str(tmp_path / "c"), "--copies", "0", "--jobs", "1",
               "--epochs", "3", "--patience", "3", "--batch-size", "8", "--run-dir", str(tmp_path / "run"),
               "--speaker-cv", "0", "64/128", "--cv-folds", "2", "--no-progress"])
    assert rc == 0
    cv = json.loads((tmp_path / "run" / "speaker_cv.json").read_text())
    assert cv["folds"] == [[1], [2]] and set(cv["settings"]) == {"none", "64/128"}
    for row in cv["settings"].values():
        assert len(row["fold_accuracy"]) == 2 and 0 <= row["accuracy"] <= 1
    assert "--speaker-cv 0 64/128" in cv["command"] and "--out" not in cv["command"]
    assert not (tmp_path / "voice_expert.pt").exists()
