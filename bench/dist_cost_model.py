#!/usr/bin/env python3
"""The cost model of one data-parallel step (docs/distributed.md): prints the table of predicted weak-scaling
efficiency for the README's network and a DeepFace-sized network at 8, 64 and 512 ranks, 10 and 100 Gbit/s.

Run: python3 bench/dist_cost_model.py [--default-samples-per-s S]
The inputs are stated below; the only measured one is the default network's training rate on this machine
(`locnet train --epochs 1`, samples/s of the training part); everything else is arithmetic on it.

Model (ring all-reduce, Thakur et al. 2005; Patarasuk & Yuan 2009): a bucket of b bytes takes
  2 (N-1)/N * b / bandwidth + 2 (N-1) * latency
and the gradients travel in buckets of BUCKET bytes started as backward produces them (PyTorch DDP, Li et al. 2020).
Every bucket but the last can hide under the rest of backward; the last (the first layers' gradients) cannot:
  T_step = T_fwd + max(T_bwd, T_comm - T_last) + T_last,   efficiency = (T_fwd + T_bwd) / T_step
Weak scaling: the per-rank batch is fixed, so T_fwd and T_bwd do not depend on N.
"""
import argparse

BANDWIDTHS = {"10 Gbit/s": (10e9 / 8, 25e-6), "100 Gbit/s": (100e9 / 8, 2e-6)}  # bytes/s, per-message latency
RANKS = (8, 64, 512)
PER_RANK_BATCH = 64
BUCKET = 1 << 20          # FitOptions::bucket_bytes default
BACKWARD_SHARE = 2 / 3    # backward takes about twice the forward's time (two GEMMs per weight GEMM)

# Trainable parameters (f32 gradients, 4 bytes each), from `locnet summary` (docs/distributed.md shows how).
DEFAULT_TRAINABLE = 248_906        # 249,098 in all less the 3 x 64 BatchNorm running statistics
DEEPFACE_TRAINABLE = 118_923_774   # DeepFace (Taigman et al. 2014) C1-F8; L4-L6 are 73,454,256 of it
# Training FLOPs per sample (forward, and backward at twice the forward): 3 x 2 x multiply-adds.
DEFAULT_FLOP = 3 * 2 * (784 * 288 + 196 * 9216 + 25 * 9216 + 8000)
DEEPFACE_FLOP = 3 * 2 * (142 * 142 * 11 * 11 * 3 * 32 + 63 * 63 * 9 * 9 * 32 * 16 + 62_726_400 + 7_840_000 +
                         2_822_400 + 7056 * 4096 + 4096 * 4030)


def ring(nbytes, n, bandwidth, latency, bucket=BUCKET):
    """(all buckets, last bucket) seconds of a ring all-reduce of nbytes in buckets."""
    if n == 1:
        return 0.0, 0.0
    full, rest = divmod(nbytes, bucket)
    sizes = [bucket] * full + ([rest] if rest else [])

    def one(b):
        return 2 * (n - 1) / n * b / bandwidth + 2 * (n - 1) * latency

    return sum(one(b) for b in sizes), one(sizes[-1])


def step(params, seconds_per_sample, n, bandwidth, latency, bucket):
    compute = seconds_per_sample * PER_RANK_BATCH
    fwd, bwd = compute * (1 - BACKWARD_SHARE), compute * BACKWARD_SHARE
    comm, last = ring(4 * params, n, bandwidth, latency, bucket)
    total = fwd + max(bwd, comm - last) + last
    return compute, comm, total, compute / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--default-samples-per-s", type=float, default=8000.0,
                        help="measured training rate of the README network on one rank (this 2-core machine)")
    args = parser.parse_args()
    default_s = 1.0 / args.default_samples_per_s
    flop_rate = DEFAULT_FLOP / default_s  # the same achieved FLOP rate for DeepFace (an assumption)
    nets = {"README network": (DEFAULT_TRAINABLE, default_s, (BUCKET,)),
            "DeepFace-sized": (DEEPFACE_TRAINABLE, DEEPFACE_FLOP / flop_rate, (BUCKET, 25 << 20))}
    print(f"per-rank batch {PER_RANK_BATCH}, buckets of {BUCKET} bytes, achieved {flop_rate / 1e9:.1f} GFLOP/s")
    for name, (params, s, _) in nets.items():
        print(f"{name}: {params:,} trainable parameters, {4 * params / 1e6:.2f} MB per step, "
              f"{DEFAULT_FLOP if name.startswith('README') else DEEPFACE_FLOP:,} FLOP/sample, "
              f"compute {1e3 * s * PER_RANK_BATCH:.1f} ms per step")
    print("| network | bucket | link | N | all-reduce ms | step ms | efficiency |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name, (params, s, buckets) in nets.items():
        for bucket in buckets:
            for link, (bw, lat) in BANDWIDTHS.items():
                for n in RANKS:
                    _, comm, total, eff = step(params, s, n, bw, lat, bucket)
                    print(f"| {name} | {bucket >> 20} MiB | {link} | {n} | {1e3 * comm:.1f} | {1e3 * total:.1f} | "
                          f"{100 * eff:.0f}% |")


if __name__ == "__main__":
    main()
