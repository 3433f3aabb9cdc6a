#!/usr/bin/env bash
# The charts (src/io/plot.c) through the commands that draw them: eval --png
# (the confusion matrix as a heatmap), attack --png-curve (accuracy against
# eps), train --plot (loss and accuracy per epoch); and the gradient pictures
# of grad --png and jacobian --png on colour images [N, 3, H, W]. Each PNG is decoded here
# (zlib + the PNG filters, no imaging library) and checked: its size, its
# colours where the data puts them (a model that is always right has dark
# diagonal cells and white off-diagonal ones; a planted wrong label darkens
# its off-diagonal cell), the series drawn in their colours. Bad requests:
# exit 2, one line, nothing written.
# usage: tests/cli_pictures.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
cd "$T" || exit 1

# a classifier whose class is the largest of x0 + x3, x1 + x4, x2 + x5
printf '{"layers": [{"W": [[1,0,0],[0,1,0],[0,0,1],[1,0,0],[0,1,0],[0,0,1]], "activation": "softmax"}]}' >m.json
"$CR" convert --model m.json --out m.safetensors >/dev/null || { echo "cli_pictures: convert failed"; exit 1; }
/usr/bin/python3 - <<'PY' || { echo "cli_pictures: cannot write the data (python3 + numpy)"; exit 1; }
import numpy as np
rng = np.random.default_rng(2)
x = rng.uniform(0, 1, (60, 6)).astype(np.float32)
np.save("x.npy", x)
PY
# the model's own predictions as labels: every example right
"$CR" predict --model m.safetensors --inputs x.npy --out p.npy >/dev/null
/usr/bin/python3 -c "
import numpy as np
p = np.load('p.npy'); y = p.argmax(1).astype(np.int64); np.save('y.npy', y)
w = y.copy(); w[0] = (y[0] + 1) % 3; np.save('yw.npy', w)   # one planted mistake
print(np.bincount(y, minlength=3).min())" >counts.txt
[ "$(cat counts.txt)" -ge 1 ] && ok || bad "every class is predicted at least once (got $(cat counts.txt))"

cat >png.py <<'PY'
import struct, sys, zlib
def read(path):
    d = open(path, "rb").read()
    assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(d):
        n, kind = struct.unpack(">I4s", d[pos:pos + 8]); body = d[pos + 8:pos + 8 + n]; pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 2, "8-bit RGB expected"
        elif kind == b"IDAT": idat += body
    raw, stride, rows, prev = zlib.decompress(idat), 3 * w, [], bytearray(3 * w)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0; b = prev[i]; c = prev[i - 3] if i >= 3 else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prev = line
    return w, h, rows
def px(rows, x, y): return tuple(rows[y][3 * x:3 * x + 3])
def count(rows, rgb): return sum(r[i:i + 3] == bytes(rgb) for r in rows for i in range(0, len(r), 3))
PY

# ---- eval --png: the confusion matrix
expect 0 "eval --png" -- "$CR" eval --model m.safetensors --inputs x.npy --labels y.npy --png conf.png
grep -q "confusion matrix -> conf.png" out && ok || bad "eval says where the picture went"
expect 0 "eval --png, one wrong label" -- "$CR" eval --model m.safetensors --inputs x.npy --labels yw.npy --png confw.png
/usr/bin/python3 - <<'PY' && ok || bad "the confusion heatmap's cells are not where the counts put them"
import sys; sys.path.insert(0, ".")
import numpy as np, png
y, w = np.load("y.npy"), np.load("yw.npy")
x0 = None
for path, lab in (("conf.png", y), ("confw.png", w)):
    W, H, rows = png.read(path)
    # the cells: 36 px squares (K <= 12); the grid's corner is the top-left of the first
    # picture's dark diagonal (every example right), the same place in both pictures
    if x0 is None:
        dark = [(x, yy) for yy in range(H) for x in range(W) if png.px(rows, x, yy) == (8, 48, 107)]
        assert dark, f"{path}: no fully dark cell"
        x0, y0 = min(p[0] for p in dark), min(p[1] for p in dark)
    conf = np.zeros((3, 3), int)
    for t, p in zip(lab, y): conf[t, p] += 1
    for i in range(3):
        for j in range(3):
            c = png.px(rows, x0 + 36 * j + 2, y0 + 36 * i + 2)
            share = conf[i, j] / conf[i].sum()
            want = tuple(round(a + (b - a) * share) for a, b in zip((247, 251, 255), (8, 48, 107)))
            assert c == want, f"{path}: cell ({i},{j}) is {c}, want {want} (share {share:.3f})"
print("heatmap ok")
PY

# ---- attack --png-curve: two panels, the series in its colour
expect 0 "attack --png-curve" -- "$CR" attack --model m.safetensors --inputs x.npy --labels y.npy --method fgsm --eps 0.05,0.1,0.2,0.4 --png-curve curve.png
/usr/bin/python3 - <<'PY' && ok || bad "attack --png-curve: not a two-panel chart with its series"
import sys; sys.path.insert(0, ".")
import png
W, H, rows = png.read("curve.png")
assert W == 850 and 300 < H < 400, (W, H)
n = png.count(rows, (0, 114, 178))
assert n > 200, n                     # the series' dots and lines (5 points, 2 panels)
left = sum(png.count([r[:3 * 425]], (0, 114, 178)) for r in rows)
assert 0 < left < n, (left, n)          # in both panels
PY

# ---- train --plot: redrawn after every epoch, training and test series
/usr/bin/python3 -c "
import numpy as np
rng = np.random.default_rng(3)
x = rng.uniform(0, 1, (200, 6)).astype(np.float32); y = (x[:, 0] + x[:, 1] > 1).astype(np.int64)
np.save('tx.npy', x); np.save('ty.npy', y)"
expect 0 "train --plot" -- "$CR" train --data tx.npy,ty.npy --test tx.npy,ty.npy --layers 6,4,2 --epochs 3 --out t.safetensors --plot train.png --quiet
/usr/bin/python3 - <<'PY' && ok || bad "train --plot: not the loss and accuracy chart"
import sys; sys.path.insert(0, ".")
import png
W, H, rows = png.read("train.png")
assert W == 850, W
assert png.count(rows, (0, 114, 178)) > 100 and png.count(rows, (230, 159, 0)) > 100  # training, test
# the epoch axis starts at the first point, epoch 1: its dot (5 x 5) sits on the left axis at x = 5 + 62
# (the panel's offset and left margin); an axis from 0 puts it a third of the way across
left = min(x for y in range(H) for x in range(W // 2) if png.px(rows, x, y) == (0, 114, 178))
assert 65 <= left <= 67, left
PY

# ---- grad --png and jacobian --png on colour images [N, 3, H, W]: the input drawn in colour
/usr/bin/python3 -c "
import numpy as np
x = np.zeros((3, 3, 6, 6), np.float32)
x[:, 0, :3, :] = 1      # top half red
x[:, 1, 3:, :] = 1      # bottom half green
x[:, 2, :, 3:] = 1      # right half blue
np.save('cx.npy', x); np.save('cy.npy', np.array([0, 1, 2]))"
"$CR" init --layers 108,5,3 --seed 2 --out c.safetensors >/dev/null
expect 0 "grad --png, colour" -- "$CR" grad --model c.safetensors --inputs cx.npy --labels cy.npy --out cg.npy --png cgrad.png
grep -qxF "picture -> cgrad.png" "$T/out" && ok || bad "grad --png does not say where the picture went (as jacobian, attack and attribute do)"
expect 0 "jacobian --png, colour" -- "$CR" jacobian --model c.safetensors --inputs cx.npy --out cj.npy --png cjac.png
/usr/bin/python3 - <<'PY' && ok || bad "grad/jacobian --png: the colour input is not drawn in its colours, or the maps are missing"
import sys; sys.path.insert(0, ".")
import png
for path, tiles_per_row in (("cgrad.png", 6), ("cjac.png", 4)):
    W, H, rows = png.read(path)
    # the first tile: below the title and its label; find its top-left as the first red pixel
    red = [(x, y) for y in range(H) for x in range(W) if png.px(rows, x, y) == (255, 0, 0)]
    assert red, f"{path}: no pure red (the top-left quarter of the input)"
    x0, y0 = min(p[0] for p in red), min(p[1] for p in red)
    s = 4 if path == "cgrad.png" else 3     # pixels per input pixel
    want = {(0, 0): (255, 0, 0), (5, 0): (255, 0, 255), (0, 5): (0, 255, 0), (5, 5): (0, 255, 255)}
    for (c, r), rgb in want.items():
        got = png.px(rows, x0 + c * s + 1, y0 + r * s + 1)
        assert got == rgb, f"{path}: input pixel ({r},{c}) is {got}, want {rgb}"
    # the maps: diverging colours (neither grey nor the input's) right of the input
    maps = sum(1 for y in range(y0, y0 + 6 * s) for x in range(x0 + 6 * s + 4, W)
               if png.px(rows, x, y) not in ((255, 255, 255), (0, 0, 0)) and len(set(png.px(rows, x, y))) > 1)
    assert maps > 6 * 6 * s * s, f"{path}: only {maps} map pixels"
PY
expect 2 "grad --png --wrt params" -- "$CR" grad --model c.safetensors --inputs cx.npy --labels cy.npy --wrt params --out g.safetensors --png no.png
one_line_error "--png draws input gradients" "grad --png --wrt params"
no_file no.png "grad --png --wrt params"
expect 2 "jacobian --png on non-images" -- "$CR" jacobian --model m.safetensors --inputs x.npy --out j.npy --png no.png
one_line_error "a picture needs image inputs" "jacobian --png on non-images"
no_file no.png "jacobian --png on non-images"

# ---- refusals: one line, nothing written
expect 2 "eval --png into a missing folder" -- "$CR" eval --model m.safetensors --inputs x.npy --labels y.npy --png nodir/c.png
one_line_error "nodir/c.png" "eval --png into a missing folder"
no_file nodir "eval --png"
printf '{"layers": [{"W": [[1],[1],[1],[1],[1],[1]], "activation": "sigmoid"}]}' >reg.json
/usr/bin/python3 -c "import numpy as np; np.save('t.npy', np.zeros((60, 1), np.float32))"
expect 2 "eval --png on a regressor" -- "$CR" eval --model reg.json --inputs x.npy --targets t.npy --png r.png
one_line_error "--png draws a classifier's confusion matrix" "eval --png on a regressor"
no_file r.png "eval --png on a regressor"

echo "cli_pictures: $pass passed, $fail failed"
[ "$fail" = 0 ]
