"""The model card's talking-clip section says what `bench --talking` measured, row by row."""

from moodmusic.training.card import render_markdown
from moodmusic.training.evaluate import PARTS


def test_the_card_reports_flicker_share_and_change_delays():
    card = {"talking": {"speaker": "MEAD M030", "seconds": 40.0,
                        "talking_clips": [
                            {"clip": "M030_front_happy_level3_001.mp4", "mood": "happy", "switches_per_min": 0.0,
                             "right_share": 1.0, "shown": {"happy": 152}},
                            {"clip": "M030_front_angry_level3_001.mp4", "mood": "angry", "switches_per_min": 9.5,
                             "right_share": 0.164, "shown": {"happy": 128, "angry": 24}}],
                        "talking_changes": [{"from": "happy", "to": "sad", "delay_s": 1.04},
                                            {"from": "sad", "to": "neutral", "delay_s": 1.28},
                                            {"from": "neutral", "to": "fear", "delay_s": None}]}}
    md = render_markdown(card)
    assert "## The live engine on real talking clips" in md
    assert "| M030_front_angry_level3_001.mp4 | angry | 9.5 | 16.4% | happy, angry |" in md
    assert "shows after 1.04–1.28 s (2 changes)" in md


def test_talking_is_a_part_evaluate_can_run_alone():
    assert "talking" in PARTS
