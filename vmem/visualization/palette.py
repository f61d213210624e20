"""Stable, well-separated colours for class labels and track ids.

Stepping the hue by the golden ratio spreads any run of consecutive indices around the
colour wheel (neighbours are ~137 degrees apart), so classes 0, 1, 2, ... and tracks
with consecutive ids never get look-alike colours, and the colour of an index is pure
arithmetic: the same in every process and run (unlike anything built on ``hash()``).
"""
from __future__ import annotations

import colorsys
import operator

GOLDEN_RATIO_CONJUGATE = 0.6180339887498949
# Start away from pure red so index 0 is not the colour people read as "error".
FIRST_HUE = 0.12
# Fixed, fairly high saturation and value: vivid on photos and readable under text.
SATURATION = 0.75
VALUE = 0.95


def color_for(index: int) -> tuple[int, int, int]:
    """The RGB colour (0-255 each) of a class label or track id; any integer, including
    numpy integers and negative ids, is accepted."""
    index = operator.index(index)  # rejects floats: 1.5 is no label
    hue = (FIRST_HUE + index * GOLDEN_RATIO_CONJUGATE) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, SATURATION, VALUE)
    return round(red * 255), round(green * 255), round(blue * 255)
