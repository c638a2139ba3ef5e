"""The "Why?" panel's page logic without a browser (Streamlit's AppTest), on a real face through the real engine.

The button explains the face the session read last (the astronaut's smile:
the heat on the lower face), shows the picture and the sentence until Close, and
says plainly when there is no face to explain.

Which word the sentence uses is the model's: the committed weights of 2026-12-06
look hardest at the astronaut's chin, the ones before at her mouth. So the tests
ask for the part under the heatmap's hottest square, computed here from the
occlusion heatmap, and, for a smile, a part of the lower face.
"""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from moodmusic.live.replay import SimulatedClock, replay_session
from moodmusic.moods import MOODS
from moodmusic.recognition.explain import PATCH, hottest_square, occlusion
from moodmusic.live.session import FaceRead
from moodmusic.ui.why_panel import REGIONS, explain_face, face_region, sentence
from tests.live.test_why_session import experts  # noqa: F401 (the fixture: loaded once per module)


def page(session) -> None:
    from moodmusic.ui import why_panel

    why_panel.render(session)


LOWER_FACE = {"the mouth", "the chin", "the cheeks"}  # where a smile shows


def hottest_part(experts, read: FaceRead) -> str:
    """The face part under the hottest square of the happy heatmap, which must lie on the lower face."""
    heat, _ = occlusion(experts.face, read.crop, mood=MOODS.index("happy"))
    y, _ = hottest_square(heat, PATCH)
    assert y + PATCH / 2 > 24, (y, heat.round(2))  # below the crop's middle: a smile, not the eyes
    part = face_region(heat)
    assert part in LOWER_FACE, part
    return part


def run(session) -> AppTest:
    return AppTest.from_function(page, args=(session,), default_timeout=30).run()


def press(app: AppTest, label: str) -> AppTest:
    next(b for b in app.button if b.label.startswith(label)).click()
    return app.run()


def test_why_explains_the_face_read_last_until_closed(experts, face_frame):
    clock = SimulatedClock()
    session = replay_session(experts, clock)
    session.on_video(face_frame)
    app = run(session)
    assert not app.exception and len(app.button) == 1  # only the button until it is pressed
    part = hottest_part(experts, session.latest_face())
    app = press(app, "🔍 Why?")
    assert not app.exception, app.exception
    said = [m.value for m in app.markdown if "The face expert looked most at" in m.value]
    assert said == ["**The face expert looked most at %s; it read happy (%d%%).**"
                    % (part, round(100 * session.latest_face().probability))], [m.value for m in app.markdown]
    images = app.get("image")
    assert len(images) == 1 and images[0].captions[0].startswith("The frozen face, from 0.0 s")  # crop and heatmap
    clock.t += 0.5  # the stream goes on; the explanation stays frozen
    session.on_video(np.full_like(face_frame, 90))
    app = app.run()
    assert any(f"looked most at {part};" in m.value for m in app.markdown)
    app = press(app, "Close")
    assert not any("looked most at" in m.value for m in app.markdown) and len(app.button) == 1
    # the face has left the picture: say so, do not explain an old face
    app = press(app, "🔍 Why?")
    assert [i.value for i in app.info] == ["No face in view right now, so there is nothing to explain. "
                                           "Look at the camera and ask again."]
    session.close()


def test_before_start_it_says_the_camera_is_off(experts):
    session = replay_session(experts, SimulatedClock())
    app = press(run(session), "🔍 Why?")
    assert [i.value for i in app.info][0].startswith("No face to explain: the camera is off.")
    session.close()


def test_the_region_named_is_where_the_heat_is(experts, face_frame):
    session = replay_session(experts, SimulatedClock())
    session.on_video(face_frame)
    read = session.latest_face()
    why = explain_face(experts.face, read, read.at + 0.2)
    assert why.mood == "happy" and why.region == hottest_part(experts, read) and abs(why.age_s - 0.2) < 1e-9
    assert why.picture.shape == (222, 388, 3) and why.ms > 0
    assert sentence(why).endswith(f"it read happy ({why.probability:.0%}).")
    for name, (x, y) in REGIONS:  # a square of heat over each part is named as that part
        heat = np.zeros((48, 48))
        y0, x0 = int(min(max(round(y - 6), 0), 36)), int(min(max(round(x - 6), 0), 36))
        heat[y0:y0 + 12, x0:x0 + 12] = 1.0
        assert face_region(heat) == name, (name, x, y)
    flat = FaceRead(read.crop, np.full(6, 1 / 6), read.at)
    assert explain_face(experts.face, flat, read.at).mood == "angry"  # the reading it is given, not a new one
    session.close()


def test_a_face_not_read_lately_is_not_explained(experts, face_frame):
    clock = SimulatedClock()
    session = replay_session(experts, clock)
    session.on_video(face_frame)
    clock.t += 1.2  # no frame read for 1.2 s (a busy server): the face is still "in view", the reading too old
    app = press(run(session), "🔍 Why?")
    assert [i.value for i in app.info] == ["Your face was not read in the last second (the server is busy). "
                                           "Ask again in a moment."]
    session.close()
