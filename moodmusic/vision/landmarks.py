"""Named points of MediaPipe's 468-point face mesh.

"Right" and "left" are the subject's, as MediaPipe names them: in an unmirrored
photo the subject's right eye is on the image's left. The mesh always puts
point 33 on the image-left eye, so a mirrored selfie simply swaps the names.
"""

from __future__ import annotations

NUM_LANDMARKS = 468

# Eyes: full contours (upper and lower lid) and the points used for openness.
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM = 33, 133, 159, 145
LEFT_EYE_OUTER, LEFT_EYE_INNER, LEFT_EYE_TOP, LEFT_EYE_BOTTOM = 263, 362, 386, 374

# Brows: upper edge, outer to inner, and the inner ends.
RIGHT_BROW = (70, 63, 105, 66, 107)
LEFT_BROW = (300, 293, 334, 296, 336)
RIGHT_BROW_INNER, LEFT_BROW_INNER = 107, 336

# Lips: the outer contour, the inner edge of each lip at the middle, and the corners.
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
UPPER_LIP_TOP, LOWER_LIP_BOTTOM = 0, 17
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
MOUTH_RIGHT, MOUTH_LEFT = 61, 291

NOSE_TIP, NOSE_BASE = 1, 2
CHIN = 152
FOREHEAD = 10

# A light outline for overlays: face oval, eyes, brows, lips.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
