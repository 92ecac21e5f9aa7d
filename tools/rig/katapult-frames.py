#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rule 1 on a rig-slcan log: every Katapult frame the host sent is whole.

usage: katapult-frames.py LOG [FIRST-LINE]

Reads the Lawicel lines the kernel wrote through slcan (rig-slcan --log), from FIRST-LINE (1-based)
on, groups the data of standard frames by CAN id - the host-to-node ids of the Katapult node ids
the log's SET_KATAPULT_NODEID frames (3F0#11 uuid node) gave out; the admin id and a Klipper
application's ids (an identify before the reboot) are other protocols - and parses each id's
byte stream as Katapult frames (spec katapult.md 1.1:
01 88 cmd N payload[4N] crc16-le 99 03, CRC-16/MCRF4XX over cmd, N and payload). A dropped or
repeated CAN frame inside a Katapult frame breaks its length, CRC or trailer: exit 1, naming the
id and the byte offset. Prints "id 0x...: N frames, B bytes" per id; exit 2 when no id carried a
Katapult frame (nothing was checked).
"""
import sys


def crc16(data):
    crc = 0xFFFF
    for b in data:
        b ^= crc & 0xFF
        b ^= (b & 0x0F) << 4
        crc = ((b << 8) | (crc >> 8)) ^ (b >> 4) ^ (b << 3)
        crc &= 0xFFFF
    return crc


def frames(stream):
    """Yields the command byte of each whole frame; raises ValueError at the first bad byte."""
    pos = 0
    while pos < len(stream):
        if stream[pos:pos + 2] != b"\x01\x88":
            raise ValueError("offset %d: no 01 88 header (%s)" % (pos, stream[pos:pos + 8].hex()))
        if pos + 4 > len(stream):
            raise ValueError("offset %d: cut after the header" % pos)
        n = stream[pos + 3]
        end = pos + 4 * n + 8
        if n > 30 or end > len(stream):
            raise ValueError("offset %d: length %d words runs past the data" % (pos, n))
        body = stream[pos + 2:pos + 4 + 4 * n]
        crc = stream[end - 4] | stream[end - 3] << 8
        if crc != crc16(body) or stream[end - 2:end] != b"\x99\x03":
            raise ValueError("offset %d: bad CRC or trailer in cmd 0x%02x" % (pos, body[0]))
        yield body[0]
        pos = end


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    streams = {}
    katapult = set()
    with open(sys.argv[1], errors="replace") as log:
        for number, line in enumerate(log, 1):
            line = line.strip()
            if number < first or len(line) < 5 or line[0] != "t":
                continue
            can_id, dlc = int(line[1:4], 16), int(line[4])
            data = bytes.fromhex(line[5:5 + 2 * dlc])
            if can_id == 0x3F0 and len(data) == 8 and data[0] == 0x11:
                katapult.add(0x100 + 2 * data[7])
            elif can_id != 0x3F0:
                streams.setdefault(can_id, bytearray()).extend(data)
    checked = 0
    for can_id, stream in sorted(streams.items()):
        if can_id not in katapult:
            continue
        try:
            count = sum(1 for _ in frames(bytes(stream)))
        except ValueError as e:
            print("id 0x%03x: partial frame: %s" % (can_id, e))
            return 1
        print("id 0x%03x: %d frames, %d bytes" % (can_id, count, len(stream)))
        checked += count
    return 0 if checked else 2


if __name__ == "__main__":
    sys.exit(main())
