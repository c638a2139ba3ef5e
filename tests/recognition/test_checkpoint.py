from fractions import Fraction

import pytest
import torch

from moodmusic.recognition.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

META = {"kind": "voice", "classes": ["a", "b"], "feature_version": "voice-v9", "arch": {"hidden": 4}, "norm": [0.5, 1.5]}


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    layer = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "m.pt", layer.state_dict(), META)
    state, meta = load_checkpoint(tmp_path / "m.pt", kind="voice", feature_version="voice-v9")
    assert meta == META
    assert torch.equal(state["weight"], layer.weight.detach())
    assert not (tmp_path / "m.pt.tmp").exists()


def test_missing_file_names_it_and_the_fix(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing.*git checkout"):
        load_checkpoint(tmp_path / "nope.pt", kind="voice")


def test_corrupt_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(path, kind="voice")


def test_truncated_file_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "m.pt", torch.nn.Linear(3, 2).state_dict(), META)
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "m.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "m.pt", kind="voice")


def test_wrong_kind_and_wrong_feature_version_refuse_to_load(tmp_path):
    save_checkpoint(tmp_path / "m.pt", torch.nn.Linear(3, 2).state_dict(), META)
    with pytest.raises(CheckpointError, match="expected 'face'"):
        load_checkpoint(tmp_path / "m.pt", kind="face")
    with pytest.raises(CheckpointError, match=r"voice-v9.*voice-v10.*retrain"):
        load_checkpoint(tmp_path / "m.pt", kind="voice", feature_version="voice-v10")


def test_pickled_objects_are_not_loaded(tmp_path):
    # Any class outside torch's allow-list would run code on load if unpickled.
    torch.save({"state_dict": {}, "meta": {"kind": "voice", "obj": Fraction(1, 3)}}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.pt", kind="voice")


def test_metadata_must_name_what_the_model_needs(tmp_path):
    with pytest.raises(ValueError, match="feature_version"):
        save_checkpoint(tmp_path / "m.pt", {}, {"kind": "voice", "classes": [], "arch": {}})
