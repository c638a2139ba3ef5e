"""Which face is which player: left is Player 1, right is Player 2, kept steady as people move.

The face tracker lists faces largest first, which changes whenever one
player leans in, so seats go by x position instead: the left face is
Player 1. Each seat remembers where its face last was and how big it was
(a face's size says how far the person sits from the camera, which a
cross-over leaves alone). The x order only loses to "each face to the seat
it looks like" when that is clearly nearer, by more than `swap_margin` of
the frame's width: two people changing places keep their scores when their
faces differ clearly in size, and faces alike follow the x order, so a small
doubt never flips a seat back and forth. A lone face takes the nearer
known seat; with no seat known yet it is Player 1.

>>> seats = PlayerSeats()
>>> seats.assign([500.0, 100.0], width=640)  # largest first: the right face came first
[1, 0]
>>> seats.assign([330.0], width=640)  # one face left, nearer Player 2's last place
[1]
"""

from __future__ import annotations

from collections.abc import Sequence


SIZE_WEIGHT = 2.0  # a face's size (box width) counts this much more than its x position in telling faces apart


class PlayerSeats:
    """Seat (player index) for each face centre x; remembers where each seat last was and its face's size."""

    def __init__(self, players: int = 2, swap_margin: float = 0.15) -> None:
        if players not in (1, 2):
            raise ValueError(f"the game has 1 or 2 players, got {players}")
        self.players = players
        self.swap_margin = swap_margin
        self.last: list[float | None] = [None] * players  # each seat's last centre x, in frame pixels
        self.size: list[float | None] = [None] * players  # each seat's last face width, in frame pixels

    def reset(self) -> None:
        self.last = [None] * self.players
        self.size = [None] * self.players

    def assign(self, centres: Sequence[float], width: float, sizes: Sequence[float] | None = None) -> list[int]:
        """Seat per face (same order as `centres`; `sizes` their widths, if known); faces beyond the seats get -1."""
        xs = [float(x) for x in centres]
        ws = [float(w) for w in sizes] if sizes is not None else [None] * len(xs)
        seats = self._pair(xs, ws, width) if len(xs) >= 2 and self.players == 2 else self._single(xs)
        for x, w, seat in zip(xs, ws, seats):
            if seat >= 0:
                self.last[seat], self.size[seat] = x, w
        return seats

    def _single(self, xs: list[float]) -> list[int]:
        if not xs:
            return []
        known = [(abs(xs[0] - x), i) for i, x in enumerate(self.last) if x is not None]
        seat = min(known)[1] if known else 0
        return [seat] + [-1] * (len(xs) - 1)

    def _cost(self, x: float, w: float | None, seat: int) -> float:
        last, size = self.last[seat], self.size[seat]
        cost = abs(x - last) if last is not None else 0.0
        return cost + (SIZE_WEIGHT * abs(w - size) if w is not None and size is not None else 0.0)

    def _pair(self, xs: list[float], ws: list[float | None], width: float) -> list[int]:
        by_x = (0, 1) if xs[0] <= xs[1] else (1, 0)  # left is Player 1
        chosen = by_x
        if None not in self.last:
            cost = {p: self._cost(xs[0], ws[0], p[0]) + self._cost(xs[1], ws[1], p[1]) for p in ((0, 1), (1, 0))}
            nearer = min(cost, key=cost.get)
            # the x order holds unless each face clearly looks like the other seat's
            if nearer != by_x and cost[by_x] - cost[nearer] >= self.swap_margin * width:
                chosen = nearer
        return list(chosen) + [-1] * (len(xs) - 2)
