#!/usr/bin/env python3
"""Rewrites an OFD (ZIP) package with one byte of one part changed.
Usage: flip_byte.py IN.ofd PART OUT.ofd"""
import sys
import zipfile


def main():
    src, part, dst = sys.argv[1:4]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        found = False
        for info in zin.infolist():
            data = bytearray(zin.read(info.filename))
            if info.filename == part:
                data[len(data) // 2] ^= 0x01
                found = True
            zout.writestr(info.filename, bytes(data))
    if not found:
        sys.exit(f"flip_byte.py: no part {part}")


if __name__ == "__main__":
    main()
