#!/usr/bin/env bash
# Build (or finish, or reuse) the project's pretrained primate genome LM at the cpu preset.
# Usage: benchmarks/build_lm.sh [LM_DIR]     (prints the LM directory on its last line)
# Genomes: ../shared/data/genomes (or $GENOMIC_ULMFIT_DATA/genomes): human, chimpanzee, gorilla,
# orangutan chr22 EPO blocks + human chrX. The LM lives outside git, in a cache directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
make -C "$ROOT" -s .venv/.installed-stamp
BIN="$ROOT/.venv/bin"
LM=${1:-${GENOMIC_ULMFIT_LM:-$HOME/.cache/genomic-ulmfit/lm/primate-cpu-k4s2}}
DATA=${GENOMIC_ULMFIT_DATA:-$ROOT/../shared/data}
G="$DATA/genomes"
if [ -f "$LM/lm.json" ]; then
  echo "using the pretrained LM in $LM" >&2
else
  args=("$G/human_chr22_epo_blocks.fa.gz" "$G/chimpanzee_chr22_epo_blocks.fa.gz" "$G/gorilla_chr22_epo_blocks.fa.gz"
        "$G/orangutan_chr22_epo_blocks.fa.gz" "$G/human_GRCh37_chrX.fa.gz" --kmer 4 --stride 2 --preset cpu --out "$LM")
  if [ -d "$LM/checkpoints" ]; then
    echo "resuming the LM pretraining in $LM" >&2
    "$BIN/genomic-ulmfit" lm pretrain "${args[@]}" --resume >&2
  else
    rm -rf "$LM"   # a cache directory: nothing to keep from a run interrupted before its first epoch
    echo "pretraining the genome LM into $LM (about 40 min on 2 cores)" >&2
    "$BIN/genomic-ulmfit" lm pretrain "${args[@]}" >&2
  fi
fi
echo "$LM"
