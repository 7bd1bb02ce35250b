#!/usr/bin/env bash
# Build (or finish, or reuse) the project's pretrained primate genome LM at the cpu preset.
# Usage: benchmarks/build_lm.sh [LM_DIR]        (prints the LM directory on its last line)
#        benchmarks/build_lm.sh --3mer [LM_DIR] (the 3-mer/1 ablation's LM instead, see below)
#        benchmarks/build_lm.sh --paper [LM_DIR] (the seed's LM size instead, see below)
# Genomes: ../shared/data/genomes (or $GENOMIC_ULMFIT_DATA/genomes): human, chimpanzee, gorilla,
# orangutan chr22 EPO blocks + human chrX. The LM lives outside git, in a cache directory:
# $GENOMIC_ULMFIT_LM_BASE (default ~/.cache/genomic-ulmfit/lm/primate-cpu-k4s2) names run 1, the later
# runs and the other chains sit beside it; $GENOMIC_ULMFIT_LM names the last run (LM_DIR's default).
# Five runs of the cpu preset, each one-cycle over a random sample of the 2 kb pieces:
#   1. 8 M tokens from scratch (seed 0)                              → $BASE       (~20 min, one thread)
#   2. 16 M more tokens from run 1 (seed 1: other pieces, lr 3e-3)   → $BASE-24m   (~42 min, one thread)
#   3. 24 M more tokens from run 2 (seed 2: other pieces, lr 2e-3)   → $BASE-48m   (~65 min, one thread)
#   4. 24 M more tokens from run 3 (seed 3, lr 1.5e-3)               → $BASE-72m   (~65 min, one thread, est.)
#   5. 24 M more tokens from run 4 (seed 4, lr 1e-3)                 → LM_DIR      (~65 min, one thread, est.)
# (LM_DIR defaults to $BASE-96m; up to the ninth session the default was the 48 M-token LM of run 3. An
# LM_DIR that names one of the runs, e.g. $BASE-48m, ends the chain there.)
# With --3mer: one run of the cpu preset with 3-mer/1 tokens, 16 M tokens from scratch (seed 0)
#   → primate-cpu-k3s1-16m (~50 min, one thread; it reads 16 M bases, the default LM 192 M: 96 M tokens × 2 bp).
# With --paper: the same chain at the seed's size (paper-4mer preset: emb 400, hidden 1150, 3 layers,
#   20 M parameters, its dropouts), to learn whether a larger LM is what ULMFiT lacks here:
#   1. 8 M tokens from scratch (seed 0, lr 5e-3)            → $PBASE      (39 min, bf16 on two AMX threads)
#   2. 16 M more tokens from run 1 (seed 1, lr 3e-3)        → $PBASE-24m  (63 min)
#   3. 24 M more tokens from run 2 (seed 2, lr 2e-3)        → LM_DIR      (91 min; default $PBASE-48m)
#   ($PBASE = primate-paper-k4s2 beside $BASE.) Its epochs are long, so they are checkpointed every 10
#   minutes: an interrupted run resumes from its last checkpoint, not from the start. With bf16 on an AMD
#   EPYC with AVX512-BF16 (two threads) it runs at 1.9–2.1k tokens/s alone: run 1 took 94.5 min wall, ~26 min
#   of it beside other jobs, ~65–70 min alone (nineteenth session), and the chain about 6.5 h. The times
#   above are an Intel Xeon with AMX at 3.8–4.7k tokens/s (twenty-first and twenty-second sessions): 3 h 13 min.
# Times are fp32 on one thread. With bf16 autocast on a CPU with AMX (the default there, see
# `genomic-ulmfit --amp`) the five runs took 13 + 33 + 22 + 22 + 22 min on two threads (ninth and tenth
# sessions; runs 1 and 2 shared the cores with other jobs; runs 3–5 ran alone at 17–18k tokens/s), and
# with bf16 on an AMD EPYC with AVX512-BF16 (also the default there) 16 + 30 + 44 + 45 + 51 min, alone
# (eighteenth session, 8–9k tokens/s): 3 h 5 min for the whole chain.
# An interrupted run resumes from its last checkpoint.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
make -C "$ROOT" -s .venv/.installed-stamp
GU="$ROOT/.venv/bin/genomic-ulmfit"
K3=0
PAPER=0
ARGS=()
for a in "$@"; do
  case $a in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    --3mer) K3=1 ;;
    --paper) PAPER=1 ;;
    -*) echo "$0: unknown option '$a' (options: --3mer, --paper, -h)" >&2; exit 2 ;;
    *) ARGS+=("$a") ;;
  esac
done
if [ $K3 = 1 ] && [ $PAPER = 1 ]; then echo "$0: give --3mer or --paper, not both" >&2; exit 2; fi
if [ ${#ARGS[@]} -gt 1 ]; then echo "$0: one LM_DIR at most, got: ${ARGS[*]}" >&2; exit 2; fi
set -- "${ARGS[@]+"${ARGS[@]}"}"
BASE=${GENOMIC_ULMFIT_LM_BASE:-$HOME/.cache/genomic-ulmfit/lm/primate-cpu-k4s2}
LM=${1:-${GENOMIC_ULMFIT_LM:-$BASE-96m}}
DATA=${GENOMIC_ULMFIT_DATA:-$ROOT/../shared/data}
G="$DATA/genomes"
GENOMES=("$G/human_chr22_epo_blocks.fa.gz" "$G/chimpanzee_chr22_epo_blocks.fa.gz" "$G/gorilla_chr22_epo_blocks.fa.gz"
         "$G/orangutan_chr22_epo_blocks.fa.gz" "$G/human_GRCh37_chrX.fa.gz")

# build DIR ARGS...: reuse DIR when finished, resume it when interrupted, else start it afresh.
build() {
  local dir=$1
  shift
  if [ -f "$dir/lm.json" ]; then
    echo "using the pretrained LM in $dir" >&2
  elif [ -d "$dir/checkpoints" ]; then
    echo "resuming the LM pretraining in $dir" >&2
    "$GU" lm pretrain "${GENOMES[@]}" "$@" --out "$dir" --resume >&2
  else
    # a run stopped before its first checkpoint left only its corpus, which `lm pretrain` rebuilds; a folder
    # holding anything else is refused by it (nothing of the user's is deleted here)
    echo "pretraining the genome LM into $dir" >&2
    "$GU" lm pretrain "${GENOMES[@]}" "$@" --out "$dir" >&2
  fi
}

if [ $K3 = 1 ]; then
  LM=${1:-$(dirname "$BASE")/primate-cpu-k3s1-16m}
  build "$LM" --kmer 3 --stride 1 --preset cpu --seed 0 --max-tokens 16000000
  echo "$LM"
  exit 0
fi
if [ $PAPER = 1 ]; then
  PBASE=$(dirname "$BASE")/primate-paper-k4s2
  LM=${1:-$PBASE-48m}
  P=(--kmer 4 --stride 2 --preset paper-4mer --epochs 1)
  build "$PBASE" "${P[@]}" --seed 0 --max-tokens 8000000 --lr 5e-3
  build "$PBASE-24m" "${P[@]}" --init "$PBASE" --seed 1 --max-tokens 16000000 --lr 3e-3
  build "$LM" "${P[@]}" --init "$PBASE-24m" --seed 2 --max-tokens 24000000 --lr 2e-3
  echo "$LM"
  exit 0
fi
if [ -f "$LM/lm.json" ]; then   # a finished LM, whatever run it came from: build only says it uses it
  build "$LM"
  echo "$LM"
  exit 0
fi
# stage DIR ARGS...: build one run of the chain; a chain asked to end at this run (LM_DIR = $BASE-24m, say)
# stops here instead of building the later runs
stage() {
  build "$@"
  if [ "$1" = "$LM" ]; then echo "$LM"; exit 0; fi
}
stage "$BASE" --kmer 4 --stride 2 --preset cpu --seed 0
stage "$BASE-24m" --kmer 4 --stride 2 --preset cpu --init "$BASE" --seed 1 --max-tokens 16000000 --lr 3e-3
stage "$BASE-48m" --kmer 4 --stride 2 --preset cpu --init "$BASE-24m" --seed 2 --max-tokens 24000000 --lr 2e-3
stage "$BASE-72m" --kmer 4 --stride 2 --preset cpu --init "$BASE-48m" --seed 3 --max-tokens 24000000 --lr 1.5e-3
build "$LM" --kmer 4 --stride 2 --preset cpu --init "$BASE-72m" --seed 4 --max-tokens 24000000 --lr 1e-3
echo "$LM"
