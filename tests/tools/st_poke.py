#!/usr/bin/env python3
"""st_poke.py FILE TENSOR INDEX VALUE - overwrite one element of a tensor of a
safetensors file in place (F32, F16 or BF16), e.g. with nan or inf, to test
that damaged weights are refused. Standard library only."""
import json
import struct
import sys

path, name, index, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with open(path, "r+b") as f:
    (hlen,) = struct.unpack("<Q", f.read(8))
    hdr = json.loads(f.read(hlen))
    t = hdr[name]
    size = {"F32": 4, "F16": 2, "BF16": 2}[t["dtype"]]
    start, end = t["data_offsets"]
    if not 0 <= index < (end - start) // size:
        sys.exit("st_poke.py: index out of range")
    if t["dtype"] == "F32":
        raw = struct.pack("<f", value)
    elif t["dtype"] == "F16":
        raw = struct.pack("<e", value)
    else:
        raw = struct.pack("<f", value)[2:]
    f.seek(8 + hlen + start + index * size)
    f.write(raw)
