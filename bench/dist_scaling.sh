#!/usr/bin/env bash
# The loopback scaling check of docs/distributed.md: `locnet train` (the README network, batch 64, 1 epoch) on a
# fixed Fashion-MNIST subset as 1 process x 2 threads, 2 processes x 1 thread and 3 processes x 1 thread
# (oversubscribed on 2 cores), the three alternated, REPS rounds; prints the median samples/s of each and the
# communication lines the CLI prints (all-reduce time, overlap) of the median run.
# Usage: bench/dist_scaling.sh [REPS=3]   (env: LOCNET=build/bin/locnet, SUBSET=12000 training samples,
#        TEST=1000 test samples, MPIRUN=mpirun). Needs a build with -DLOCNET_MPI=ON and OpenMPI's mpirun.
set -euo pipefail
reps=${1:-3}
locnet=$(realpath "${LOCNET:-build/bin/locnet}")
mpirun=${MPIRUN:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

# The first SUBSET training and TEST test images of Debian's Fashion-MNIST, as plain IDX files.
/usr/bin/python3 - "$data" "${SUBSET:-12000}" "${TEST:-1000}" <<'EOF'
import gzip, sys
src, out, n_train, n_test = "/usr/share/datasets/fashion-mnist", sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for split, n in (("train", n_train), ("t10k", n_test)):
    for kind, header, item in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
        raw = gzip.open(f"{src}/{split}-{kind}-ubyte.gz").read()
        head = bytearray(raw[:header])
        head[4:8] = n.to_bytes(4, "big")  # the sample count
        open(f"{out}/{split}-{kind}-ubyte", "wb").write(bytes(head) + raw[header:header + n * item])
EOF

declare -A cmd=(
  [1x2]="$locnet train --data $data --epochs 1 --threads 2"
  [2x1]="$mpirun -np 2 --bind-to none $locnet train --data $data --epochs 1 --threads 1"
  [3x1]="$mpirun -np 3 --oversubscribe --bind-to none $locnet train --data $data --epochs 1 --threads 1"
)
order=(1x2 2x1 3x1)
cd "$data"  # the model file each run writes stays there
declare -A rates logs
for ((r = 1; r <= reps; r++)); do
  for c in "${order[@]}"; do
    log="$data/$c.$r.log"
    ${cmd[$c]} >"$log" 2>&1 || { echo "$c failed:"; tail -20 "$log"; exit 1; }
    rate=$(grep -oE 'epoch 1/1: .*\(([0-9.]+) samples/s\)' "$log" | head -1 | grep -oE '[0-9.]+ samples/s' |
           grep -oE '^[0-9.]+')
    rates[$c]+="$rate "
    logs[$c]+="$rate:$log "
    echo "round $r $c: $rate samples/s"
  done
done

printf '\n%-6s %-30s %8s  %s\n' config runs median "speed-up vs 1x2"
base=""
for c in "${order[@]}"; do
  median=$(tr ' ' '\n' <<<"${rates[$c]}" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}')
  base=${base:-$median}
  printf '%-6s %-30s %8s  %.2f\n' "$c" "${rates[$c]}" "$median" "$(awk -v m="$median" -v b="$base" 'BEGIN {print m / b}')"
  # the median run's communication report (the CLI's all-reduce / overlap lines, when it prints them)
  for entry in ${logs[$c]}; do
    if [[ ${entry%%:*} == "$median" ]]; then
      grep -iE 'data-parallel|all-reduce|allreduce|communicat|overlap|wait' "${entry#*:}" | tr -d '\r' | sed -E 's/^ +//; s/^/       /' || true
      break
    fi
  done
done
