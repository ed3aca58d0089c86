#!/usr/bin/env bash
# One prepared GPU check: the CUDA-only tests, fit with torch.compile, and the Word2Vec, fine-tuning-loop and
# pretraining benchmarks on the GPU beside their CPU references, in at most 8 minutes, reported to $OUT.
# Run from the repository root (bench/README.md, "GPU check", says how to prepare and call it):
#
#   bash bench/gpu_check.sh --prepare   # here, where pip reaches PyPI: wheels and the encoder's shape into .gpu/
#   bash bench/gpu_check.sh             # on the GPU machine, .gpu carried: $OUT/gpu_report.md and gpu_check.log
#   bash bench/gpu_check.sh --dry-run   # anywhere: every step resolved, nothing timed (make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv/bin/python ]; then python=.venv/bin/python; else python=python3; fi
export PYTHONUNBUFFERED=1
exec "$python" bench/gpu_check.py "$@"
