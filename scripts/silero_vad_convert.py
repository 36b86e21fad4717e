#!/usr/bin/env python3
"""Converts faster-whisper's silero_vad_v6.onnx into a safetensors file that
cwhisper's reader (src/model/safetensors.c) loads (src/vad/silero.c).

    scripts/silero_vad_convert.py IN.onnx OUT.safetensors

The ONNX graph is checked node by node against the network src/vad/silero.c
computes, so a different export fails here instead of giving wrong speech
probabilities:

    input [T, 576] (64 samples of context + a 512-sample window, 16 kHz)
    Pad reflect 128 | 128                   -> [T, 832]
    Conv basis [258, 1, 256], stride 128    -> [T, 258, 5]   (the STFT)
    Slice: real = ch 0..128, imag = ch 129..257, frames 1..4
    sqrt(re^2 + im^2)                       -> [T, 129, 4]
    Conv k3 p1 s1 129->128, ReLU            -> [T, 128, 4]
    Conv k3 p1 s2 128->64, ReLU             -> [T, 64, 2]
    Conv k3 p1 s2 64->64, ReLU              -> [T, 64, 1]
    Conv k3 p1 s1 64->128, ReLU             -> [T, 128, 1]
    LSTM 128 over the T windows (batch 1, state h, c carried)
    ReLU, Conv k1 128->1, Sigmoid           -> speech_probs [T]

Tensors written (float32, PyTorch layouts; the LSTM gates reordered from
ONNX's i, o, f, c to PyTorch's i, f, g, o):
    stft.basis [258, 256]
    encoder.N.weight [C_out, C_in, 3], encoder.N.bias [C_out]   N = 0..3
    lstm.weight_ih [512, 128], lstm.weight_hh [512, 128],
    lstm.bias_ih [512], lstm.bias_hh [512]
    head.weight [128], head.bias [1]

Needs the `onnx` package; when it is missing the script installs it (with
numpy) into a temporary virtual environment and runs itself there.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile


def ensure_onnx():
    try:
        import onnx  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("CW_SILERO_CONVERT_VENV"):
        sys.exit("silero_vad_convert: onnx still missing inside the temporary venv")
    with tempfile.TemporaryDirectory(prefix="cw-onnx-venv-") as d:
        subprocess.check_call([sys.executable, "-m", "venv", d])
        py = os.path.join(d, "bin", "python")
        log = os.path.join(d, "pip.log")
        with open(log, "w") as f:
            rc = subprocess.call([py, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                  "onnx==1.*", "numpy"], stdout=f, stderr=subprocess.STDOUT)
        if rc != 0:
            sys.stderr.write(open(log).read()[-2000:])
            sys.exit("silero_vad_convert: pip install onnx failed")
        env = dict(os.environ, CW_SILERO_CONVERT_VENV="1")
        sys.exit(subprocess.call([py] + sys.argv, env=env))


def fail(msg):
    sys.exit("silero_vad_convert: unexpected graph: " + msg)


def attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def convert(src, dst):
    import numpy as np
    import onnx
    from onnx import numpy_helper

    m = onnx.load(src)
    g = m.graph
    init = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    ins = [i.name for i in g.input]
    if ins != ["input", "h", "c"]:
        fail("inputs %s" % ins)
    ops = [n.op_type for n in g.node]
    want = ["Pad", "Unsqueeze", "Conv", "Slice", "Slice", "Pow", "Pow", "Add", "Sqrt",
            "Conv", "Relu", "Conv", "Relu", "Conv", "Relu", "Conv", "Relu", "Transpose",
            "LSTM", "Squeeze", "Relu", "Transpose", "Conv", "Sigmoid", "Reshape"]
    if ops != want:
        fail("ops %s" % ops)
    n = g.node
    pad = n[0]
    if attrs(pad).get("mode") != b"reflect" or list(init[pad.input[1]]) != [0, 128, 0, 128]:
        fail("padding")
    stft = n[2]
    a = attrs(stft)
    basis = init[stft.input[1]]
    if basis.shape != (258, 1, 256) or a["strides"] != [128] or a.get("pads", [0, 0]) != [0, 0]:
        fail("STFT conv")
    re_sl, im_sl = n[3], n[4]
    if (list(init[re_sl.input[1]]) != [0, 1] or list(init[re_sl.input[2]])[0] != 129 or
            list(init[im_sl.input[1]]) != [129, 1] or list(init[re_sl.input[3]]) != [1, 2]):
        fail("STFT slices")
    if float(init[n[5].input[1]]) != 2.0:
        fail("power")
    tensors = {"stft.basis": basis.reshape(258, 256)}
    shapes = [(128, 129, 1), (64, 128, 2), (64, 64, 2), (128, 64, 1)]
    for k, idx in enumerate([9, 11, 13, 15]):
        c = n[idx]
        a = attrs(c)
        w, b = init[c.input[1]], init[c.input[2]]
        co, ci, stride = shapes[k]
        if w.shape != (co, ci, 3) or b.shape != (co,) or a["strides"] != [stride] or a["pads"] != [1, 1]:
            fail("encoder conv %d" % k)
        tensors["encoder.%d.weight" % k] = w
        tensors["encoder.%d.bias" % k] = b
    if attrs(n[17])["perm"] != [0, 2, 1]:
        fail("transpose before the LSTM")
    lstm = n[18]
    a = attrs(lstm)
    if a.get("hidden_size") != 128 or a.get("direction", b"forward") != b"forward" or \
            list(lstm.input[4:]) != ["", "h", "c"] or "activations" in a or "clip" in a:
        fail("LSTM")
    W, R, B = init[lstm.input[1]], init[lstm.input[2]], init[lstm.input[3]]
    if W.shape != (1, 512, 128) or R.shape != (1, 512, 128) or B.shape != (1, 1024):
        fail("LSTM weights")

    def torch_order(x):  # ONNX gate blocks i, o, f, c -> PyTorch i, f, g, o
        i, o, f, c = np.split(x, 4, axis=0)
        return np.concatenate([i, f, c, o], axis=0)

    tensors["lstm.weight_ih"] = torch_order(W[0])
    tensors["lstm.weight_hh"] = torch_order(R[0])
    tensors["lstm.bias_ih"] = torch_order(B[0, :512])
    tensors["lstm.bias_hh"] = torch_order(B[0, 512:])
    head = n[22]
    hw, hb = init[head.input[1]], init[head.input[2]]
    if hw.shape != (1, 128, 1) or hb.shape != (1,) or attrs(n[21])["perm"] != [1, 2, 0]:
        fail("head")
    tensors["head.weight"] = hw.reshape(128)
    tensors["head.bias"] = hb

    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + t.nbytes]}
        blobs.append(t.tobytes())
        off += t.nbytes
    header["__metadata__"] = {"format": "cwhisper-silero-vad", "source": os.path.basename(src),
                              "version": "6", "sampling_rate": "16000", "window": "512",
                              "context": "64"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)  # the data buffer starts 8-aligned
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, dst)
    print("silero_vad_convert: %s -> %s (%d tensors, %d bytes of weights)" % (src, dst, len(tensors), off))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: scripts/silero_vad_convert.py IN.onnx OUT.safetensors")
    ensure_onnx()
    convert(sys.argv[1], sys.argv[2])
