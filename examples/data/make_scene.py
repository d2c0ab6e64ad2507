#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Draws scene.png, the picture edge_detection uses when given none.

A 256x256 8-bit grayscale test scene with something for each edge kernel: a house (vertical
walls, horizontal eaves, slanted roof, windows with crossbars), a sun (a disc: edges in every
direction, and a radial gradient inside), a checkerboard, the word EDGE in block letters, a sky
gradient and a striped road. Synthetic, so it may be redistributed under the project's licence.
Standard library only; deterministic. Usage: make_scene.py [OUTPUT] (default: scene.png next to
this script).
"""
import os
import struct
import sys
import zlib

SIZE = 256
SUPERSAMPLE = 4  # samples per pixel per axis, so slanted and round edges are anti-aliased

FONT = {  # 5x7 block letters
    "E": ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
    "D": ["####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."],
    "G": [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".###."],
}
TEXT, TEXT_X, TEXT_Y, TEXT_SCALE = "EDGE", 150, 210, 4


def in_rect(x, y, x0, y0, x1, y1):
    return x0 <= x < x1 and y0 <= y < y1


def in_triangle(x, y, apex, left, right):
    def side(p, q):
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])
    d1, d2, d3 = side(apex, left), side(left, right), side(right, apex)
    return not ((d1 < 0 or d2 < 0 or d3 < 0) and (d1 > 0 or d2 > 0 or d3 > 0))


def in_text(x, y):
    col = int((x - TEXT_X) // TEXT_SCALE)
    row = int((y - TEXT_Y) // TEXT_SCALE)
    if x < TEXT_X or y < TEXT_Y or row >= 7:
        return False
    letter, within = divmod(col, 6)  # 5 columns and a 1-column gap per letter
    return letter < len(TEXT) and within < 5 and FONT[TEXT[letter]][row][within] == "#"


def shade(x, y):
    """Brightness in [0, 1] at a point of the scene; later shapes paint over earlier ones."""
    # Sky: a vertical gradient; ground with a striped road.
    v = 0.30 + 0.35 * y / 170 if y < 170 else 0.40
    if in_rect(x, y, 0, 228, 140, 240):
        v = 0.15
    if in_rect(x, y, 10, 233, 130, 235) and int(x) % 20 < 12:
        v = 0.90
    # Sun: a disc brighter at its centre.
    r2 = (x - 205) ** 2 + (y - 48) ** 2
    if r2 < 28 ** 2:
        v = 1.0 - 0.25 * r2 / 28 ** 2
    # House: walls, roof, door, two windows with crossbars.
    if in_rect(x, y, 30, 100, 130, 200):
        v = 0.80
    if in_triangle(x, y, (80, 55), (18, 100), (142, 100)):
        v = 0.25
    if in_rect(x, y, 70, 150, 90, 200):
        v = 0.10
    for wx in (42, 98):
        if in_rect(x, y, wx, 115, wx + 20, 135):
            on_bar = abs(x - (wx + 10)) < 1.5 or abs(y - 125) < 1.5
            v = 0.80 if on_bar else 0.15
    # Checkerboard of 16-pixel squares.
    if in_rect(x, y, 152, 100, 248, 164):
        v = 0.10 if (int(x - 152) // 16 + int(y - 100) // 16) % 2 else 0.90
    if in_text(x, y):
        v = 0.95
    return v


def render():
    rows = []
    step = 1.0 / SUPERSAMPLE
    offsets = [(i + 0.5) * step for i in range(SUPERSAMPLE)]
    for py in range(SIZE):
        row = bytearray()
        for px in range(SIZE):
            total = sum(shade(px + ox, py + oy) for oy in offsets for ox in offsets)
            row.append(round(255 * total / SUPERSAMPLE ** 2))
        rows.append(bytes(row))
    return rows


def write_png(path, rows):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0)  # 8-bit gray
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every row
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "scene.png")
    write_png(out, render())
    print(out)
