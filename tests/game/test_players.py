"""Players by x position: left is Player 1, right Player 2, steady under jitter, following a clear cross-over."""

from __future__ import annotations

from moodmusic.game.players import PlayerSeats

W = 640.0


def test_left_is_player_1_whatever_order_the_tracker_lists_the_faces():
    assert PlayerSeats().assign([480.0, 160.0], W) == [1, 0]  # the tracker lists the larger (right) face first
    assert PlayerSeats().assign([160.0, 480.0], W) == [0, 1]


def test_seats_hold_when_the_tracker_reorders_faces_and_people_shift_a_little():
    seats = PlayerSeats()
    seats.assign([160.0, 480.0], W)
    for left, right in [(170, 470), (150, 490), (180, 460)]:
        assert seats.assign([float(right), float(left)], W) == [1, 0]
        assert seats.assign([float(left), float(right)], W) == [0, 1]


def test_jitter_around_the_middle_keeps_x_order():
    seats = PlayerSeats()
    seats.assign([300.0, 340.0], W)
    assert seats.assign([330.0, 310.0], W) == [1, 0]  # a small wobble: left is still Player 1


def test_a_clear_cross_over_keeps_each_player_with_their_face():
    seats = PlayerSeats()
    seats.assign([200.0, 440.0], W, sizes=[100.0, 180.0])  # Player 2 sits nearer the camera
    seats.assign([290.0, 350.0], W, sizes=[100.0, 180.0])  # walking towards each other
    # past each other: the small face (Player 1) is now on the right, and keeps its seat
    assert seats.assign([360.0, 280.0], W, sizes=[100.0, 180.0]) == [0, 1]


def test_faces_of_one_size_swapping_by_a_little_keep_x_order():
    seats = PlayerSeats()
    seats.assign([290.0, 350.0], W, sizes=[120.0, 126.0])
    assert seats.assign([352.0, 288.0], W, sizes=[121.0, 125.0]) == [1, 0]  # nothing tells them apart: x order


def test_one_face_takes_the_nearer_seat_and_extra_faces_get_none():
    seats = PlayerSeats()
    assert seats.assign([500.0], W) == [0]  # nobody seated yet: Player 1
    seats = PlayerSeats()
    seats.assign([150.0, 500.0], W)
    assert seats.assign([520.0], W) == [1]
    assert seats.assign([160.0, 480.0, 320.0], W) == [0, 1, -1]
