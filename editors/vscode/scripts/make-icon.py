#!/usr/bin/env python3
"""Writes images/icon.png, the extension's 128x128 icon, with the standard library only (zlib).

Two chain links, the right one split open: splitlink's "relink only what changed". Drawn as
signed-distance shapes, 4x4 supersampled for anti-aliasing. Usage: python3 scripts/make-icon.py
"""
import math
import os
import struct
import zlib

SIZE = 128
SS = 4  # samples per pixel per axis
BG = (30, 41, 59)       # slate
LINK_A = (56, 189, 248)  # sky
LINK_B = (251, 146, 60)  # orange


def capsule_ring(px, py, cx, cy, half_len, radius, width, angle):
    """Distance from a point to the outline of a stadium (a chain link), minus half the stroke."""
    c, s = math.cos(angle), math.sin(angle)
    x, y = (px - cx) * c + (py - cy) * s, -(px - cx) * s + (py - cy) * c
    qx = max(abs(x) - half_len, 0.0)
    return abs(math.hypot(qx, y) - radius) - width / 2, x


def sample(px, py):
    angle = -math.pi / 4
    d_a, _ = capsule_ring(px, py, 51, 77, 13, 18, 10, angle)
    d_b, xb = capsule_ring(px, py, 77, 51, 13, 18, 10, angle)
    # The split: a gap across the right link's far end.
    if -3 < xb - 24 < 3:
        d_b = max(d_b, 0.5)
    if d_b <= 0:
        return LINK_B
    if d_a <= 0:
        return LINK_A
    return None


def rounded_bg(px, py):
    r = 24
    qx = max(abs(px - SIZE / 2) - (SIZE / 2 - r), 0.0)
    qy = max(abs(py - SIZE / 2) - (SIZE / 2 - r), 0.0)
    return math.hypot(qx, qy) <= r


def main():
    rows = []
    for y in range(SIZE):
        row = bytearray([0])  # filter: none
        for x in range(SIZE):
            acc = [0, 0, 0, 0]
            for sy in range(SS):
                for sx in range(SS):
                    px, py = x + (sx + 0.5) / SS, y + (sy + 0.5) / SS
                    if not rounded_bg(px, py):
                        continue
                    col = sample(px, py) or BG
                    for i in range(3):
                        acc[i] += col[i]
                    acc[3] += 1
            n = SS * SS
            if acc[3]:
                row += bytes([round(acc[i] / acc[3]) for i in range(3)] + [round(255 * acc[3] / n)])
            else:
                row += bytes([0, 0, 0, 0])
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0))  # 8-bit RGBA
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images", "icon.png")
    with open(out, "wb") as f:
        f.write(png)
    print(f"wrote {os.path.normpath(out)} ({len(png)} bytes)")


if __name__ == "__main__":
    main()
