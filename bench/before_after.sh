#!/usr/bin/env bash
# chainrule's own figures at two commits, interleaved, on the same model and data:
#   bash bench/before_after.sh [--before REV] [--after REV] [--rounds 5] [--runs 3]
#                              [--threads 2] [--isa auto|native|avx2|native,avx2]
#                              [--dir DIR] [--markdown OUT.md]
# Defaults: --before before-15 --after HEAD --rounds 5 --runs 3 --threads 2 --isa auto, DIR
# build-before-after. Each REV is checked out with `git worktree add` into a temporary folder
# (removed at the end), built Release into DIR/build-SHA (kept: a rerun only rebuilds what
# changed), and that commit's own bench/bench_train.c and bench/bench_jacobian.c are compiled
# against its static libraries, as bench/compare.sh does. The initial weights (chainrule init,
# seed 1) and the trained seed network (784-128-10 sigmoid, 10 epochs of plain SGD, as in
# bench/compare.sh) are made once by the BEFORE build and cached in DIR, so both sides read the
# same files.
#
# Every round runs, for each kernel set and each side, bench_train (one epoch at batch 64 and
# per-example SGD, from the same initial weights) and bench_jacobian (dJ/dx of the 10,000 test
# images, the 10x784 Jacobian per image, FGSM over the 10,000 images); the order of the sides
# alternates from round to round, so a busy moment of the shared machine does not fall on one
# side only. Each process prints the median of its --runs; a figure is the median over the
# rounds. --isa auto: the best kernel set of the CPU and, when that is avx512, also
# CHAINRULE_ISA=avx2 with OPENBLAS_CORETYPE=Haswell (as scripts/test.sh). The table gives the
# medians before and after, the ratio after/before (below 1: faster) and the checks that both
# sides computed the same: Σ|dJ/dx|, Σ|Jacobian|, the first epoch's loss, accuracies.
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=before-15 AFTER=HEAD ROUNDS=5 RUNS=3 THREADS=2 ISA=auto DIR=build-before-after MD=
while [ $# -gt 0 ]; do
  case $1 in
    --before) BEFORE=$2; shift 2 ;;
    --after) AFTER=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --isa) ISA=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --markdown) MD=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "before_after.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "before_after.sh: $*" >&2; exit 1; }
say() { echo "before_after.sh: $*" >&2; }
case $ROUNDS$RUNS$THREADS in *[!0-9]*|'') die "--rounds, --runs and --threads take positive integers" ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$RUNS" -ge 1 ] && [ "$THREADS" -ge 1 ] || die "--rounds, --runs, --threads: at least 1"
sha_b=$(git rev-parse --verify --quiet "$BEFORE^{commit}") || die "--before $BEFORE: no such commit"
sha_a=$(git rev-parse --verify --quiet "$AFTER^{commit}") || die "--after $AFTER: no such commit"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
tmp=$(mktemp -d)
cleanup() {
  for s in "$tmp"/src-*; do [ -d "$s" ] && git worktree remove --force "$s" >/dev/null 2>&1; done
  git worktree prune >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# build SHA: DIR/build-SHA with chainrule, bench_train, bench_jacobian
build() {
  local sha=$1 src="$tmp/src-$1" b="$DIR/build-$1" p
  git worktree add --detach --quiet "$src" "$sha"
  say "building $(git log -1 --format='%h %s' "$sha" | cut -c1-70) in $b"
  # a cached build dir made from another (removed) worktree path: start afresh
  if [ -f "$b/CMakeCache.txt" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$b/CMakeCache.txt"; then
    rm -rf "$b"
  fi
  cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=Release -DCR_BUILD_TESTS=OFF >/dev/null
  cmake --build "$b" -j2 >/dev/null || die "the build of $sha failed"
  [ -f "$b/libchainrule.a" ] && [ -f "$b/libchainrule_io.a" ] || die "$b: no libchainrule.a/libchainrule_io.a"
  local libs="$b/libchainrule_io.a $b/libchainrule.a $(pkg-config --libs openblas libpng zlib libcjson) -lm -pthread"
  for p in bench_train bench_jacobian; do
    [ -f "$src/bench/$p.c" ] || die "$sha has no bench/$p.c"
    # shellcheck disable=SC2086
    cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -I"$src/include" "$src/bench/$p.c" $libs \
      -o "$b/$p" || die "bench/$p.c of $sha does not compile against its build"
  done
}
build "$sha_b"
[ "$sha_a" = "$sha_b" ] || build "$sha_a"
B_OLD="$DIR/build-$sha_b" B_NEW="$DIR/build-$sha_a"
if ! git diff --quiet "$sha_b" "$sha_a" -- bench/bench_train.c bench/bench_jacobian.c; then
  say "note: bench/bench_train.c or bench_jacobian.c differ between the commits (each side runs its own)"
  BENCH_DIFF=1
else
  BENCH_DIFF=0
fi

INIT="$DIR/init-$sha_b.safetensors" MODEL="$DIR/seed-model-$sha_b.safetensors"
[ -f "$INIT" ] || "$B_OLD/chainrule" init --layers 784,128,10 --seed 1 --out "$INIT" >/dev/null
if [ ! -f "$MODEL" ]; then
  say "training the seed network once with the before build (10 epochs) into $MODEL"
  "$B_OLD/chainrule" train --data fashion-mnist --layers 784,128,10 --activation sigmoid \
    --epochs 10 --batch 64 --optimizer sgd --lr 0.1 --seed 1 --out "$MODEL.part" >/dev/null
  mv "$MODEL.part" "$MODEL"
fi

# kernel sets: "label|VAR=VALUE ..."
best=$(env -u CHAINRULE_ISA "$B_NEW/chainrule" --version | sed -n 's/.*kernels: \([a-z0-9]*\)).*/\1/p')
[ -n "$best" ] || best=native
SETS=()
case $ISA in
  auto) SETS+=("$best|")
        [ "$best" = avx512 ] && SETS+=("avx2 + OpenBLAS Haswell|CHAINRULE_ISA=avx2 OPENBLAS_CORETYPE=Haswell") ;;
  native) SETS+=("$best|") ;;
  avx2) SETS+=("avx2 + OpenBLAS Haswell|CHAINRULE_ISA=avx2 OPENBLAS_CORETYPE=Haswell") ;;
  native,avx2) SETS+=("$best|" "avx2 + OpenBLAS Haswell|CHAINRULE_ISA=avx2 OPENBLAS_CORETYPE=Haswell") ;;
  *) die "--isa: auto, native, avx2 or native,avx2" ;;
esac
kernels_of() { # BUILD ENV...: the kernel set `chainrule --version` names under ENV
  local b=$1; shift
  env -u CHAINRULE_ISA "$@" "$b/chainrule" --version | sed -n 's/.*kernels: \([a-z0-9]*\)).*/\1/p'
}
for set in "${SETS[@]}"; do
  envs=${set#*|}
  # shellcheck disable=SC2086
  for b in "$B_OLD" "$B_NEW"; do
    k=$(kernels_of "$b" $envs)
    case $envs in *CHAINRULE_ISA=avx2*) [ "$k" = avx2 ] || die "$b: CHAINRULE_ISA=avx2 but the build runs '$k'" ;; esac
  done
done

RAW="$DIR/raw.txt" LOG="$DIR/before_after.log"
: >"$RAW"
: >"$LOG"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then sides="before after"; else sides="after before"; fi
  for set in "${SETS[@]}"; do
    label=${set%%|*} envs=${set#*|}
    for side in $sides; do
      if [ "$side" = before ]; then b=$B_OLD; else b=$B_NEW; fi
      for prog in bench_train bench_jacobian; do
        say "round $r/$ROUNDS, $label, $side: $prog"
        if [ "$prog" = bench_train ]; then
          cmd=("$b/bench_train" --runs "$RUNS" --threads "$THREADS" --workers "$THREADS" --init "$INIT"
               --sgd1-examples 20000 --skip-sgemm 1)
        else
          cmd=("$b/bench_jacobian" "$MODEL" --runs "$RUNS" --threads "$THREADS")
        fi
        echo "\$ $envs ${cmd[*]}" >>"$LOG"
        # shellcheck disable=SC2086
        out=$(env -u CHAINRULE_ISA -u OPENBLAS_CORETYPE $envs "${cmd[@]}" 2>>"$LOG") ||
          die "$side ($label): ${cmd[*]} failed (see $LOG)"
        echo "$out" >>"$LOG"
        echo "$out" | awk -v s="$label" -v side="$side" -v r="$r" '
          NF == 2 && $2 ~ /^[-+0-9.eE]+$/ { print s "\t" side "\t" r "\t" $1 "\t" $2 }
          $1 == "epoch_run" && $2 == "0" { print s "\t" side "\t" r "\tfirst_epoch_loss\t" $6 }' >>"$RAW"
      done
    done
  done
done
minutes=$(( ($(date +%s) - t0 + 30) / 60 ))

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|fma)$' | tr '\n' ' ')
/usr/bin/python3 - "$RAW" "$ROUNDS" "$RUNS" "$THREADS" "$BENCH_DIFF" \
  "$(git log -1 --format='%h %s' "$sha_b" | cut -c1-80)" "$(git log -1 --format='%h %s' "$sha_a" | cut -c1-80)" \
  "$cpu, $(nproc) cores; flags: $flags" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "$minutes" \
  "$BEFORE" "$AFTER" "${MD:-}" <<'EOF'
import statistics, sys
(raw, rounds, runs, threads, bench_diff, cb, ca, cpu, l0, l1, minutes, nb, na, md) = sys.argv[1:]
data = {}
for line in open(raw):
    s, side, r, k, v = line.rstrip("\n").split("\t")
    data.setdefault((s, k, side), []).append(float(v))
FIGS = [("epoch_s", "one epoch of plain SGD, batch 64 (s)"),
        ("sgd1_us", "per-example SGD (µs per example)"),
        ("grad10k_ms", "∂J/∂x of the 10,000 test images (ms)"),
        ("jac_closed_us", "10×784 Jacobian per image, closed form (µs)"),
        ("jac_rev_us", "10×784 Jacobian per image, K batched VJPs (µs)"),
        ("fgsm10k_ms", "FGSM over the 10,000 test images (ms)")]
CHECKS = [("grad10k_abs_sum", "Σ|∂J/∂x|"), ("jac_abs_sum", "Σ|Jacobian|"),
          ("first_epoch_loss", "loss of the first epoch"), ("test_acc", "test accuracy after the epochs"),
          ("clean_acc", "clean accuracy"), ("fgsm_acc", "accuracy under FGSM")]
out = [f"before: `{nb}` = {cb}", f"after: `{na}` = {ca}", f"CPU: {cpu}",
       f"{rounds} rounds (sides interleaved, order alternating) × {runs} runs per process, "
       f"{threads} thread(s); load average before {l0}, after {l1}; {minutes} min"]
if bench_diff == "1":
    out.append("note: the bench programs differ between the two commits; each side ran its own")
sets = list(dict.fromkeys(s for s, _, _ in data))
bad = 0
for s in sets:
    out += ["", f"### kernel set: {s}", "",
            "| figure | before | after | after / before |", "|---|---|---|---|"]
    for k, title in FIGS:
        b, a = data.get((s, k, "before")), data.get((s, k, "after"))
        if not b or not a:
            continue
        mb, ma = statistics.median(b), statistics.median(a)
        out.append(f"| {title} | {mb:.4g} ({min(b):.4g}–{max(b):.4g}) | {ma:.4g} ({min(a):.4g}–{max(a):.4g}) "
                   f"| **{ma / mb:.3f}** |")
    out.append("")
    for k, title in CHECKS:
        b, a = data.get((s, k, "before")), data.get((s, k, "after"))
        if not b or not a:
            continue
        rel = abs(a[0] - b[0]) / abs(b[0]) if b[0] else abs(a[0])
        spread = max(max(b) - min(b), max(a) - min(a))
        mark = "same" if rel == 0 else f"differ by {rel:.1e} (relative)"
        if rel > 1e-5:
            mark += " **DIFFERENT**"
            bad += 1
        out.append(f"check: {title}: before {b[0]:.9g}, after {a[0]:.9g}: {mark}"
                   + (f" (rounds vary by {spread:.2g})" if spread else ""))
text = "\n".join(out)
print(text)
if md:
    open(md, "w").write(text + "\n")
if bad:
    print(f"before_after.sh: {bad} check(s) differ by more than 1e-5", file=sys.stderr)
EOF
