#!/usr/bin/env python3
"""Score images with an exported adalab detector, in plain Python + numpy (no framework).

    adalab runs export-detector RUN_ID -o DIR
    python3 examples/score_numpy.py DIR image1.png image2.png ...
    python3 examples/score_numpy.py DIR --npy images.npy      # N x C x H x W floats in [0, 1]

Prints CSV like `adalab score RUN_ID ... --csv`: path, one score per scorer, and whether the
primary scorer's score is above the run's calibrated fpr=0.05 threshold. Everything it needs is
in the export: DIR/detector.safetensors (the model's tensors and the fitted scorer's tensors)
and DIR/detector.toml (architecture, preprocessing, scorer settings, thresholds). PNG images
(8-bit, not interlaced) are read here; they must already have the detector's size (adalab
resizes with a bilinear filter, which this script does not reimplement).
"""

import json
import struct
import sys
import tomllib
import zlib

import numpy as np


def load_safetensors(path):
    """Tensors by name (numpy arrays) and the header's metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": "<f4", "I64": "<i8"}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[base + start : base + end], dtype=dtypes[info["dtype"]])
        tensors[name] = arr.reshape(info["shape"])
    return tensors, meta


def read_png(path):
    """An 8-bit, non-interlaced PNG as an H x W x channels uint8 array."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: only 8-bit grey/RGB(A) non-interlaced PNGs are read here")
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1)
        cur = line.astype(np.int64)
        if ftype == 1:
            for x in range(channels, stride):
                cur[x] = (cur[x] + cur[x - channels]) & 255
        elif ftype == 2:
            cur = (cur + prev) & 255
        elif ftype == 3:
            for x in range(stride):
                left = cur[x - channels] if x >= channels else 0
                cur[x] = (cur[x] + (left + prev[x]) // 2) & 255
        elif ftype == 4:
            for x in range(stride):
                a = cur[x - channels] if x >= channels else 0
                b = prev[x]
                c = prev[x - channels] if x >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[x] = (cur[x] + pred) & 255
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels).astype(np.uint8)


def preprocess(img, channels, size):
    """uint8 H x W x C -> float32 C x H x W in [0, 1], as adalab converts (alpha dropped)."""
    h, w, c = img.shape
    if (h, w) != size:
        raise ValueError(f"image is {w}x{h}; resize it to {size[1]}x{size[0]} first")
    img = img.astype(np.int64)
    colour = img[:, :, :3] if c >= 3 else np.repeat(img[:, :, :1], 3, axis=2)
    if channels == 1:
        if c >= 3:
            grey = (2126 * colour[:, :, 0] + 7152 * colour[:, :, 1] + 722 * colour[:, :, 2]) // 10000
        else:
            grey = img[:, :, 0]
        planes = grey[None]
    else:
        planes = colour.transpose(2, 0, 1)
    return planes.astype(np.float32) / np.float32(255.0)


def conv3x3(x, w, pad):
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = x.shape
    ho, wo = h - 2, wd - 2
    cols = np.stack([x[:, :, i : i + ho, j : j + wo] for i in range(3) for j in range(3)], axis=2)
    return np.einsum("nckhw,ock->nohw", cols, w.reshape(w.shape[0], c, 9))


def embed(x, t, arch):
    """The backbone's forward pass in eval mode (batchnorm with running statistics)."""
    eps = arch["batchnorm_eps"]
    for s in range(len(arch["widths"])):
        for j in range(arch["convs_per_stage"]):
            p = f"backbone.stage{s}.conv{j}"
            x = conv3x3(x, t[p + ".weight"].astype(np.float64), arch["padding"])
            mean, var = t[p + ".bn.running_mean"], t[p + ".bn.running_var"]
            gamma, beta = t[p + ".bn.gamma"], t[p + ".bn.beta"]
            inv = 1.0 / np.sqrt(var.astype(np.float64) + eps)
            x = (x - mean[None, :, None, None]) * (inv * gamma)[None, :, None, None]
            x = np.maximum(x + beta[None, :, None, None], 0.0)
        n, c, h, w = x.shape
        x = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    x = x.reshape(x.shape[0], -1)
    return x @ t["backbone.fc.weight"].astype(np.float64) + t["backbone.fc.bias"]


def view(x, source):
    """A test-time view: output pixel p of every plane takes source pixel source[p] (-1: 0)."""
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    out = np.where(source[None, None, :] >= 0, flat[:, :, np.maximum(source, 0)], 0.0)
    return out.reshape(n, c, h, w)


def unit_rows(x):
    norm = np.sqrt((x * x).sum(axis=1, keepdims=True))
    return np.where(norm > 0, x / np.where(norm > 0, norm, 1.0), 0.0)


def knn_cosine(train, test, k):
    cos = np.clip(unit_rows(test) @ unit_rows(train).T, -1.0, 1.0)
    return -np.sort(cos, axis=1)[:, ::-1][:, :k].mean(axis=1)


def class_cosine(test, direction):
    return -np.clip(unit_rows(test) @ unit_rows(direction[None])[0], -1.0, 1.0)


def mahalanobis(train, test, shrinkage):
    mean = train.mean(axis=0)
    centred = train - mean
    cov = centred.T @ centred / len(train)
    mu = np.trace(cov) / cov.shape[0]
    cov = (1.0 - shrinkage) * cov + shrinkage * mu * np.eye(cov.shape[0])
    z = np.linalg.solve(np.linalg.cholesky(cov), (test - mean).T)
    return (z * z).sum(axis=0)


def lof(train, test, k):
    lo, hi = train.min(axis=0), train.max(axis=0)
    rng = np.where(hi - lo == 0, 1.0, hi - lo)
    train, test = (train - lo) / rng, (test - lo) / rng

    def dists(a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return np.sqrt(np.maximum(d2, 0.0))

    d_tt = dists(train, train)
    np.fill_diagonal(d_tt, np.inf)
    nb = np.argsort(d_tt, axis=1, kind="stable")[:, :k]
    nd = np.take_along_axis(d_tt, nb, axis=1)
    kdist = nd[:, -1]
    lrd_train = 1.0 / (np.maximum(nd, kdist[nb]).mean(axis=1) + 1e-10)
    d = dists(test, train)
    nb = np.argsort(d, axis=1, kind="stable")[:, :k]
    nd = np.take_along_axis(d, nb, axis=1)
    lrd = 1.0 / (np.maximum(nd, kdist[nb]).mean(axis=1) + 1e-10)
    return lrd_train[nb].mean(axis=1) / lrd


def rank_against(reference, x):
    """adalab's ensemble rank of each x among its sorted reference scores."""
    less = np.searchsorted(reference, x, side="left")
    upto = np.searchsorted(reference, x, side="right")
    return ((2 * less + (upto - less) - 1) / 2.0 + 1.0) / len(reference)


def score(x, t, meta):
    """Scores of images x (N x C x H x W, float32 in [0, 1]) per configured scorer."""
    arch, sc = meta["architecture"], meta["scorer"]
    base = set(k for k in sc["scorers"] if k != "ensemble")
    if "ensemble" in sc["scorers"]:
        base |= set(sc["ensemble"])
    sums = {k: 0.0 for k in base}
    for v in range(len(sc["views"])):
        e = embed(view(x, t[f"scorer.view{v}.source"]), t, arch)
        normal = t[f"scorer.view{v}.normal"].astype(np.float64)
        if sc["normalize"]:
            e, normal = unit_rows(e), unit_rows(normal)
        for k in base:
            if k == "knn-cosine":
                s = knn_cosine(normal, e, sc["knn_k"])
            elif k == "lof":
                s = lof(normal, e, sc["lof_k"])
            elif k == "mahalanobis":
                s = mahalanobis(normal, e, sc["shrinkage"])
            elif k == "class-cosine":
                s = class_cosine(e, t["scorer.class_direction"].astype(np.float64))
            else:
                raise ValueError(f"unknown scorer {k}")
            sums[k] = sums[k] + s
    out = {k: v / len(sc["views"]) for k, v in sums.items()}
    if "ensemble" in sc["scorers"]:
        members = [k for k in sc["ensemble"] if f"scorer.ensemble_reference.{k}" in t]
        out["ensemble"] = sum(
            rank_against(t[f"scorer.ensemble_reference.{k}"], out[k].astype(np.float32))
            for k in members
        ) / len(members)
    return {k: out[k] for k in sc["scorers"]}


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    folder = argv[1]
    t, _ = load_safetensors(f"{folder}/detector.safetensors")
    with open(f"{folder}/detector.toml", "rb") as f:
        meta = tomllib.load(f)
    inp = meta["input"]
    if argv[2] == "--npy":
        x = np.load(argv[3]).astype(np.float32)
        names = [f"{argv[3]}[{i}]" for i in range(len(x))]
    else:
        names = argv[2:]
        size = (inp["height"], inp["width"])
        x = np.stack([preprocess(read_png(p), inp["channels"], size) for p in names])
    scores = score(x, t, meta)
    primary = meta["scorer"]["scorers"][0]
    threshold = meta["threshold"]["at_fpr"].get(primary, {}).get("fpr=0.05")
    print(",".join(["path"] + [f"score_{k}" for k in scores] + ["flagged"]))
    for i, name in enumerate(names):
        flagged = "" if threshold is None else str(bool(scores[primary][i] > threshold)).lower()
        print(",".join([name] + [repr(float(scores[k][i])) for k in scores] + [flagged]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
