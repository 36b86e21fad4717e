#!/usr/bin/env python3
"""Generates the constant tables behind src/eval/ (run from the repository root):

  src/eval/ucd_tables.c       Unicode data as Python's own `re`, `str.lower` and
                              `unicodedata` see it (the normaliser must match
                              openai-whisper byte for byte, so the source of truth
                              is the Python that runs it, not a UCD file).
  src/eval/spelling_table.c   openai-whisper's english.json spelling map, sorted
                              by key (UTF-8 byte order) for binary search.

    python3 src/eval/gen_tables.py

The Unicode version is recorded in the output; regenerate when the reference
Python's unicodedata version changes.
"""
import json
import os
import re
import sys
import unicodedata

MAX_CP = 0x110000
HANGUL_S0, HANGUL_SN = 0xAC00, 11172


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF


def ranges(pred):
    """Sorted [lo, hi] runs of code points where pred holds."""
    out, start = [], None
    for cp in range(MAX_CP + 1):
        ok = cp < MAX_CP and not is_surrogate(cp) and pred(cp)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def c_ranges(name, rs):
    body = ",\n".join("    {0x%X, 0x%X}" % r for r in rs)
    return ("const cw_uc_range %s[] = {\n%s\n};\nconst size_t %s_n = %d;\n\n"
            % (name, body, name, len(rs)))


def char_class(cp):
    """0: kept, 1: Mn (dropped as a diacritic), 2: other M*, S*, P* (a space)."""
    cat = unicodedata.category(chr(cp))
    if cat == "Mn":
        return 1
    return 2 if cat[0] in "MSP" else 0


def class_runs():
    runs, prev = [], None
    for cp in range(MAX_CP):
        k = char_class(cp)
        if k != prev:
            runs.append((cp, k))
            prev = k
    return runs


def digit_ranges():
    """Runs of \\d characters whose decimal values ascend by one: [lo, hi, value(lo)]."""
    out = []
    for lo, hi in ranges(lambda cp: re.match(r"\d", chr(cp)) is not None):
        start = lo
        for cp in range(lo, hi + 1):
            assert unicodedata.decimal(chr(cp)) is not None
            if cp > start and unicodedata.decimal(chr(cp)) != unicodedata.decimal(chr(cp - 1)) + 1:
                out.append((start, cp - 1, unicodedata.decimal(chr(start))))
                start = cp
        out.append((start, hi, unicodedata.decimal(chr(start))))
    return out


def sigma_sets():
    """Python's str.lower() maps capital sigma to final sigma by the Unicode
    Final_Sigma rule, using the Cased and Case_Ignorable properties, which the
    unicodedata module does not expose; recover both from lower() itself."""
    cased, ignorable = set(), set()
    for cp in range(MAX_CP):
        if is_surrogate(cp):
            continue
        c = chr(cp)
        f1 = (c + "\u03a3").lower()[-1] == "\u03c2"  # not ignorable and cased
        f2 = ("A" + c + "\u03a3").lower()[-1] == "\u03c2"  # ignorable or cased
        if f1:
            cased.add(cp)
        if f2 and not f1:
            ignorable.add(cp)
    return cased, ignorable


def mapping_table(name, entries):
    """entries: sorted [(cp, [cps])] -> index array plus one flat data array."""
    data, idx = [], []
    for cp, seq in entries:
        assert 0 < len(seq) < 256
        idx.append("    {0x%X, %d, %d}" % (cp, len(data), len(seq)))
        data.extend(seq)
    assert len(data) < 65536
    out = "const uint32_t %s_data[] = {\n" % name
    for i in range(0, len(data), 10):
        out += "    " + ", ".join("0x%X" % d for d in data[i:i + 10]) + ",\n"
    out += "};\n"
    out += "const cw_uc_map %s[] = {\n%s\n};\nconst size_t %s_n = %d;\n\n" % (
        name, ",\n".join(idx), name, len(entries))
    return out


def lower_entries():
    out = []
    for cp in range(MAX_CP):
        if is_surrogate(cp) or cp == 0x3A3:  # sigma is handled in code
            continue
        low = chr(cp).lower()
        if low != chr(cp):
            out.append((cp, [ord(x) for x in low]))
    return out


def nfkd_entries():
    out = []
    for cp in range(MAX_CP):
        if is_surrogate(cp) or HANGUL_S0 <= cp < HANGUL_S0 + HANGUL_SN:
            continue
        d = unicodedata.normalize("NFKD", chr(cp))
        if d != chr(cp):
            out.append((cp, [ord(x) for x in d]))
    return out


def ccc_ranges():
    out, start, prev = [], None, 0
    for cp in range(MAX_CP + 1):
        k = unicodedata.combining(chr(cp)) if cp < MAX_CP and not is_surrogate(cp) else 0
        if k != prev:
            if prev:
                out.append((start, cp - 1, prev))
            start, prev = cp, k
    return out


def compose_pairs():
    """Primary composites: canonical two-character decompositions that NFC
    recomposes (composition exclusions and singletons drop out)."""
    out = []
    for cp in range(MAX_CP):
        if is_surrogate(cp):
            continue
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        parts = [int(x, 16) for x in d.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(cp):
            out.append((parts[0], parts[1], cp))
    return sorted(out)


def write_ucd(path):
    space = ranges(lambda cp: re.match(r"\s", chr(cp)) is not None)
    assert space == ranges(lambda cp: chr(cp).isspace())  # str.split() agrees with \s
    cased, ignorable = sigma_sets()
    src = ["/* Generated by src/eval/gen_tables.py from Python %s (Unicode %s): do not edit.\n"
           " * Unicode data exactly as Python's re, str.lower() and unicodedata use it. */\n"
           '#include "eval/ucd.h"\n\n' % (sys.version.split()[0], unicodedata.unidata_version)]
    src.append(c_ranges("cw_uc_word", ranges(lambda cp: re.match(r"\w", chr(cp)) is not None)))
    src.append(c_ranges("cw_uc_space", space))
    digits = digit_ranges()
    src.append("const cw_uc_digit_range cw_uc_digit[] = {\n%s\n};\nconst size_t cw_uc_digit_n = %d;\n\n" % (
        ",\n".join("    {0x%X, 0x%X, %d}" % d for d in digits), len(digits)))
    src.append(c_ranges("cw_uc_sigma_cased", ranges(lambda cp: cp in cased)))
    src.append(c_ranges("cw_uc_sigma_ignorable", ranges(lambda cp: cp in ignorable)))
    runs = class_runs()
    src.append("const cw_uc_class_run cw_uc_class[] = {\n%s\n};\nconst size_t cw_uc_class_n = %d;\n\n" % (
        ",\n".join("    {0x%X, %d}" % r for r in runs), len(runs)))
    src.append(mapping_table("cw_uc_lower", lower_entries()))
    src.append(mapping_table("cw_uc_nfkd", nfkd_entries()))
    ccc = ccc_ranges()
    src.append("const cw_uc_ccc_range cw_uc_ccc[] = {\n%s\n};\nconst size_t cw_uc_ccc_n = %d;\n\n" % (
        ",\n".join("    {0x%X, 0x%X, %d}" % r for r in ccc), len(ccc)))
    pairs = compose_pairs()
    src.append("const cw_uc_pair cw_uc_compose[] = {\n%s\n};\nconst size_t cw_uc_compose_n = %d;\n" % (
        ",\n".join("    {0x%X, 0x%X, 0x%X}" % p for p in pairs), len(pairs)))
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(src))


def c_string(s):
    out = []
    for b in s.encode("utf-8"):
        if b in (0x22, 0x5C) or b < 0x20 or b >= 0x7F:
            out.append("\\%03o" % b)
        else:
            out.append(chr(b))
    return '"' + "".join(out) + '"'


def write_spelling(path):
    import whisper.normalizers
    src_json = os.path.join(os.path.dirname(whisper.normalizers.__file__), "english.json")
    with open(src_json, encoding="utf-8") as f:
        mapping = json.load(f)
    items = sorted(mapping.items(), key=lambda kv: kv[0].encode("utf-8"))
    body = ",\n".join("    {%s, %s}" % (c_string(k), c_string(v)) for k, v in items)
    with open(path, "w", encoding="utf-8") as f:
        f.write("/* Generated by src/eval/gen_tables.py from openai-whisper's\n"
                " * whisper/normalizers/english.json (%d entries; openai/whisper, MIT licence,\n"
                " * Copyright (c) 2022 OpenAI): British to American spellings. Do not edit.\n"
                " * Sorted by key in UTF-8 byte order for binary search. */\n"
                '#include "eval/spelling.h"\n\n'
                "const cw_spelling_entry cw_spelling_table[] = {\n%s\n};\n"
                "const size_t cw_spelling_table_n = %d;\n" % (len(items), body, len(items)))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    write_ucd(os.path.join(here, "ucd_tables.c"))
    write_spelling(os.path.join(here, "spelling_table.c"))


if __name__ == "__main__":
    main()
