#!/usr/bin/env python3
"""Checks that a CTranslate2 model.bin is whole: every variable's bytes lie inside
the file and the alias table closes it. Prints a one-line summary; exits 1 with a
one-line reason otherwise. Stdlib only (runs before anything is built)."""
import struct
import sys

DTYPES = {0: ("float32", 4), 1: ("int8", 1), 2: ("int16", 2), 3: ("int32", 4),
          4: ("float16", 2), 5: ("bfloat16", 2)}


def check(path):
    with open(path, "rb") as f:
        data = f.read()
    size = len(data)
    pos = 0

    def take(fmt):
        nonlocal pos
        n = struct.calcsize(fmt)
        if pos + n > size:
            raise ValueError(f"truncated at byte {pos} of {size}")
        v = struct.unpack_from(fmt, data, pos)
        pos += n
        return v

    def string():
        nonlocal pos
        (n,) = take("<H")
        if pos + n > size:
            raise ValueError(f"truncated at byte {pos} of {size}")
        s = data[pos:pos + n - 1].decode("utf-8", "replace")
        pos += n
        return s

    (version,) = take("<I")
    if version < 5 or version > 6:
        raise ValueError(f"binary version {version} is not 5 or 6")
    spec = string()
    take("<I")
    (nvars,) = take("<I")
    counts = {}
    for i in range(nvars):
        try:
            name = string()
            (rank,) = take("<B")
            take("<%dI" % rank)
            (dt,) = take("<B")
            (nbytes,) = take("<I")
        except ValueError as e:
            raise ValueError(f"{e}: only {i} of {nvars} variables present")
        if pos + nbytes > size:
            raise ValueError(f"variable {i} of {nvars} ('{name}') ends at byte {pos + nbytes}, "
                             f"past the end of the file ({size} bytes): only {i} of {nvars} variables present")
        pos += nbytes
        dname = DTYPES.get(dt, ("dtype%d" % dt, 0))[0]
        counts[dname] = counts.get(dname, 0) + 1
    (naliases,) = take("<I")
    for _ in range(naliases):
        string()
        string()
    if pos != size:
        raise ValueError(f"{size - pos} unexpected bytes after the alias table")
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return f"{spec}, {nvars} variables ({kinds}), {naliases} aliases, {size} bytes"


def main():
    if len(sys.argv) != 2:
        print("usage: ct2_check.py model.bin", file=sys.stderr)
        return 2
    try:
        print(check(sys.argv[1]))
    except (OSError, ValueError, struct.error) as e:
        print(f"{sys.argv[1]}: incomplete CTranslate2 model: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
