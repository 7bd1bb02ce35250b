#!/usr/bin/env bash
# Score the project's recommended CPU recipe on data it has never seen.
# Usage: benchmarks/holdout.sh TRAIN.tsv.gz TEST.tsv.gz OUT_DIR
#   TRAIN/TEST: TSV (gz ok) with columns sequence,label (optional id). The recipe (k-mer LR and gkm-SVM
#   each with the human genome copy numbers of their 20-mers and the best score of each JASPAR 2024
#   vertebrate motif, modern CNN, ULMFiT; ensembled) trains on TRAIN
#   only (10% of TRAIN held out for validation), building or reusing the pretrained genome LM
#   (benchmarks/build_lm.sh) and the k-mer copy index of the human genome files in
#   $GENOMIC_ULMFIT_DATA/genomes (default ../shared/data: chrX + chr22; ~25 s once, then cached), and
#   writes OUT_DIR/scores.tsv (id, score, label) and OUT_DIR/metrics.json. The copy numbers are human:
#   for another species give its genome with --copies-genome FASTA (repeatable), or other --models.
#   Extra options after OUT_DIR go to `genomic-ulmfit holdout`, e.g. --resume to load the members an
#   interrupted run into OUT_DIR already fitted.
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 TRAIN.tsv.gz TEST.tsv.gz OUT_DIR [genomic-ulmfit holdout options]" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
train=$1 test=$2 out=$3
shift 3
for f in "$train" "$test"; do   # before hours of LM pretraining, not after
  if [ ! -f "$f" ]; then echo "$0: $f: file not found" >&2; exit 2; fi
done
RECIPE=()
case " $* " in
  *" --models "*|*" --models="*) ;;   # the caller chooses the models (and gives --copies-genome for the :copies ones)
  *)
    RECIPE=(--models kmer:copies+motifs,cnn,gkm:copies+motifs,ulmfit)
    case " $* " in
      *" --copies-genome "*|*" --copies-genome="*) ;;
      *)
        G="${GENOMIC_ULMFIT_DATA:-$ROOT/../shared/data}/genomes"
        for g in "$G/human_GRCh37_chrX.fa.gz" "$G/human_chr22_epo_blocks.fa.gz"; do
          if [ ! -f "$g" ]; then echo "$0: $g: genome not found; set GENOMIC_ULMFIT_DATA or give --copies-genome" >&2; exit 2; fi
          RECIPE+=(--copies-genome "$g")
        done ;;
    esac ;;
esac
case " $* " in
  *" --lm "*|*" --lm="*)   # the caller names the LM: nothing to build
    exec "$ROOT/.venv/bin/genomic-ulmfit" holdout "$train" "$test" --out "$out" ${RECIPE[@]+"${RECIPE[@]}"} "$@" ;;
esac
LM=$("$ROOT/benchmarks/build_lm.sh" | tail -n 1)
exec "$ROOT/.venv/bin/genomic-ulmfit" holdout "$train" "$test" --lm "$LM" --out "$out" ${RECIPE[@]+"${RECIPE[@]}"} "$@"
