#!/usr/bin/env python3
"""Writes a test seal picture: a red ring with a red centre star-like dot on a
transparent background, as a PNG (standard library only). Usage: make_seal_png.py OUT [SIZE]"""
import math
import struct
import sys
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def main():
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 240
    c = (size - 1) / 2
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            r = math.hypot(x - c, y - c)
            ring = size * 0.40 <= r <= size * 0.48
            angle = math.atan2(y - c, x - c)
            star = r <= size * 0.14 * (0.6 + 0.4 * math.cos(5 * angle))
            row += bytes([200, 16, 16, 230]) if ring or star else bytes([0, 0, 0, 0])
        rows.append(bytes(row))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")
    with open(out, "wb") as f:
        f.write(png)


if __name__ == "__main__":
    main()
