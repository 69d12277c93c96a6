"""Builds the fuzz seed corpus from docs/FORMAT.md alone (a second, independent
writer of the format: `framering info` must accept what it makes).

usage: python3 fuzz/seeds.py   (from the repository root)
"""
import struct
slot_count, cap = 2, 256
stride = (64 + cap + 63) // 64 * 64
size = 256 + slot_count * stride
seg = bytearray(size)
struct.pack_into("<8sIIIIQQQ", seg, 0, b"FRAMERNG", 3, 256, 64, slot_count, cap, stride, size)
struct.pack_into("<QII Q", seg, 64, 1, 4242, 1, 123)          # generation, pid, state=live, started_ns
struct.pack_into("<Q", seg, 128, 1)                            # published = 1
struct.pack_into("<I", seg, 192, 1)                            # notify
slot = 256 + (1 % slot_count) * stride                         # frame 1 lives in slot 1
meta = struct.pack("<QQQQIIIIII", 1, 1000, 0, 256, 16, 16, 16, int.from_bytes(b"GREY", "little"), 0, 0)
struct.pack_into("<Q", seg, slot, 2)                           # seq: even
seg[slot + 8: slot + 64] = meta
seg[slot + 64: slot + 64 + 256] = bytes(range(256))
open("fuzz/corpus/segment_bytes/valid-ring", "wb").write(seg)
open("fuzz/corpus/slot_bytes/valid-gray16", "wb").write(meta + bytes(range(256)))
