#!/usr/bin/python3
"""Read a safetensors file with Python's standard library and PyTorch only (no
`safetensors` package) and print every tensor, for tests/test_safetensors.c.

Usage: read_safetensors.py FILE

Output, one line each (values exact: Python's repr of a float reads back to the same
double, and float32 values widen to double exactly):
    meta|KEY|VALUE
    tensor|NAME|DTYPE|SHAPE|V1,V2,...
where DTYPE is torch's name (torch.float32, torch.float64, torch.int64) and SHAPE is
comma-separated. Exit status 77 when torch cannot be imported. The script checks the layout rules of the format itself (header
starting with '{', tensors tiling the data buffer exactly) and exits with status 1 and a
message on stderr when the file breaks one.
"""
import json
import struct
import sys

try:
    import torch
except ImportError:
    sys.exit(77)  # the C test then skips: no PyTorch here

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("header length beyond the file")
    text = data[8:8 + n].decode("utf-8")
    if not text.startswith("{"):
        raise ValueError("header does not start with '{'")
    header = json.loads(text)
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    spans = []
    for name, info in header.items():
        dtype, size = DTYPES[info["dtype"]]
        shape = [int(d) for d in info["shape"]]
        begin, end = (int(v) for v in info["data_offsets"])
        numel = 1
        for d in shape:
            numel *= d
        if end - begin != numel * size or end > len(buf):
            raise ValueError(f"bad data_offsets for {name}")
        spans.append((begin, end))
        if numel == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            t = torch.frombuffer(bytearray(buf[begin:end]), dtype=dtype).reshape(shape)
        tensors[name] = t
    pos = 0
    for begin, end in sorted(spans):
        if begin != pos:
            raise ValueError("tensors do not tile the data buffer")
        pos = end
    if pos != len(buf):
        raise ValueError("bytes after the last tensor")
    return meta, tensors


def main():
    try:
        meta, tensors = read(sys.argv[1])
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        print(f"read_safetensors.py: {e}", file=sys.stderr)
        sys.exit(1)
    for key, value in meta.items():
        print(f"meta|{key}|{value}")
    for name, t in tensors.items():
        values = t.reshape(-1).tolist()
        shape = ",".join(str(d) for d in t.shape)
        print(f"tensor|{name}|{t.dtype}|{shape}|{','.join(repr(v) for v in values)}")


if __name__ == "__main__":
    main()
