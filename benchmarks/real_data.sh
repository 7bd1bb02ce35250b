#!/usr/bin/env bash
# Reproduce every number in benchmarks/RESULTS.md from ../shared/data (read in place).
# Usage: benchmarks/real_data.sh [WORK_DIR] [STEP ...]
#   WORK_DIR defaults to ~/.cache/genomic-ulmfit/results; steps (default: all but cohn_paper and cohn_paper_ft, in this order):
#   import lm cohn_split cohn_report cohn_recipe cohn_gkmsvm cohn_gkm cohn_ablations cohn_lm_seeds cohn_ulmfit72 cohn_paper cohn_paper_ft cohn_3mer
#   cohn_comp cohn_learning_curve cohn_cv cohn_cv_ulmfit cohn_cv_gkm cohn_copies cohn_cv_copies cohn_recipe_copies cohn_cv_jaspar
#   cohn_recipe_jaspar cohn_motifs_jaspar ienhancer ienhancer_ulmfit ienhancer_3mer ienhancer_4 ienhancer_gkm ienhancer_copies ienhancer_jaspar vista
#   vista_ulmfit vista_gkm vista_copies vista_jaspar nhlf nhlf_ulmfit nhlf_gkm nhlf_copies nhlf_jaspar leakage
#   (cohn_paper and cohn_paper_ft run only when named: they need the seed-size LM, 3 h 13 min of pretraining in bf16
#   on AMX, ~6.5 h on an AMD EPYC with AVX512-BF16; RESULTS.md "Twenty-first and twenty-second sessions")
# Each step writes under WORK_DIR (its own files and folders, named in the step below) and prints its summary;
# nothing goes into git. Steps after cohn_recipe that take the recipe split (cohn_ablations, cohn_lm_seeds,
# cohn_ulmfit72, cohn_paper*, cohn_3mer, cohn_comp, cohn_learning_curve) need cohn_trainvalid.tsv.gz, which
# cohn_recipe or cohn_gkm writes. Environment: GENOMIC_ULMFIT_DATA (the shared data), GENOMIC_ULMFIT_LM (the
# default LM), GENOMIC_ULMFIT_LM_BASE (build_lm.sh's chain, whose folder also holds the other LMs),
# GENOMIC_ULMFIT_LM_48M / _72M / _PAPER (the LMs of the steps named after them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ALL="import lm cohn_split cohn_report cohn_recipe cohn_gkmsvm cohn_gkm cohn_ablations cohn_lm_seeds cohn_ulmfit72 cohn_3mer cohn_comp cohn_learning_curve cohn_cv cohn_cv_ulmfit cohn_cv_gkm cohn_copies cohn_cv_copies cohn_recipe_copies cohn_cv_jaspar cohn_recipe_jaspar cohn_motifs_jaspar ienhancer ienhancer_ulmfit ienhancer_3mer ienhancer_4 ienhancer_gkm ienhancer_copies ienhancer_jaspar vista vista_ulmfit vista_gkm vista_copies vista_jaspar nhlf nhlf_ulmfit nhlf_gkm nhlf_copies nhlf_jaspar leakage"
KNOWN=" $ALL cohn_paper cohn_paper_ft "
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
esac
if [ -n "${1:-}" ] && [[ $KNOWN == *" $1 "* ]]; then
  echo "$0: '$1' is a step name, but the first argument is the work directory: $0 WORK_DIR $*" >&2
  exit 2
fi
W=${1:-$HOME/.cache/genomic-ulmfit/results}
shift || true
for step in "$@"; do   # every step name checked before any step runs
  if [[ $KNOWN != *" $step "* ]]; then echo "$0: unknown step '$step'; steps: $ALL cohn_paper cohn_paper_ft" >&2; exit 2; fi
done
make -C "$ROOT" -s .venv/.installed-stamp
GU="$ROOT/.venv/bin/genomic-ulmfit"
D=${GENOMIC_ULMFIT_DATA:-$ROOT/../shared/data}
# Ensembles made by a step from another step's runs (cohn_gkmsvm, cohn_lm_seeds, cohn_3mer use cohn_recipe's members)
# record each member's fingerprint: after rerunning cohn_recipe, rerun those steps too (loading their old
# ensembles is refused, as their members changed).
STEPS=${*:-$ALL}
mkdir -p "$W"
# kmer:copies and gkm:copies read the copy numbers of their 20-mers in these human genome files (24th session)
COPIES=(--copies-genome "$D/genomes/human_GRCh37_chrX.fa.gz" --copies-genome "$D/genomes/human_chr22_epo_blocks.fa.gz")
export COLUMNS=${COLUMNS:-160}
LMS=$(dirname "${GENOMIC_ULMFIT_LM_BASE:-$HOME/.cache/genomic-ulmfit/lm/primate-cpu-k4s2}")   # where build_lm.sh puts them
LM=${GENOMIC_ULMFIT_LM:-$LMS/primate-cpu-k4s2-96m}   # the default LM, built by benchmarks/build_lm.sh (tenth session on)
# Up to the ninth session the default was the 48 M-token LM (run 3 of build_lm.sh): the steps named after it use it
# explicitly; rerun any other step with GENOMIC_ULMFIT_LM=~/.cache/genomic-ulmfit/lm/primate-cpu-k4s2-48m to
# reproduce the rows RESULTS.md gives with it.
L48=${GENOMIC_ULMFIT_LM_48M:-$LMS/primate-cpu-k4s2-48m}
L72=${GENOMIC_ULMFIT_LM_72M:-$LMS/primate-cpu-k4s2-72m}

fresh() { rm -rf "$1"; mkdir -p "$(dirname "$1")"; }
# the seed-size LM: GENOMIC_ULMFIT_LM_PAPER, else build_lm.sh builds or finishes the --paper chain and names its last run
paper_lm() {
  if [ -n "${GENOMIC_ULMFIT_LM_PAPER:-}" ]; then echo "$GENOMIC_ULMFIT_LM_PAPER"; else "$ROOT/benchmarks/build_lm.sh" --paper | tail -n 1; fi
}
# TRAIN = the seeded train + valid rows of cohn_human.parquet, TEST = its test rows (the recipe protocol)
cohn_tsvs() {
  "$ROOT/.venv/bin/python" - "$W" <<'PY'
import sys, pandas as pd
w = sys.argv[1]; df = pd.read_parquet(f"{w}/cohn_human.parquet")
df[df.split != "test"][["id", "sequence", "label"]].to_csv(f"{w}/cohn_trainvalid.tsv.gz", sep="\t", index=False)
df[df.split == "test"][["id", "sequence", "label"]].to_csv(f"{w}/cohn_test.tsv.gz", sep="\t", index=False)
PY
}

for step in $STEPS; do
  echo "=== $step ($(date -u +%H:%M:%S))"
  case $step in
    import)
      "$GU" data import --tsv "$D/cohn_human/cohn_human_dev.tsv.gz" --species Human --out "$W/cohn_human.parquet"
      "$GU" data split "$W/cohn_human.parquet" --seed 0
      "$GU" data import --positive "$D/ienhancer/ienhancer_cv_enhancer.fa.gz" \
        --negative "$D/ienhancer/ienhancer_cv_non_enhancer.fa.gz" --species Human --out "$W/ienhancer.parquet"
      "$GU" data import --positive "$D/vista/vista_human_hg19_pos.fa.gz" \
        --negative "$D/vista/vista_human_hg19_neg.fa.gz" --species Human --out "$W/vista.parquet"
      "$GU" data import --tsv "$D/nhlf/nhlf_train.tsv.gz" --species Human --out "$W/nhlf.parquet"
      for s in cohn_human ienhancer vista nhlf; do "$GU" data stats "$W/$s.parquet" --json "$W/$s.stats.json"; done
      ;;
    lm)
      "$ROOT/benchmarks/build_lm.sh" "$LM"
      ;;
    cohn_split)   # fixed seeded 80/10/10 split: baselines, ULMFiT (genome LM + fine-tune), ensemble
      C="$W/cohn_split"; DS="$W/cohn_human.parquet"
      fresh "$C"
      "$GU" train "$DS" --model kmer --out "$C/kmer"
      "$GU" lm finetune "$DS" --from "$LM" --preset cpu --out "$C/lm_finetuned"
      "$GU" train "$DS" --model ulmfit --encoder "$C/lm_finetuned" --preset cpu --out "$C/ulmfit"
      "$GU" train "$DS" --model cnn --arch cohn --out "$C/cnn-cohn"
      "$GU" train "$DS" --model cnn --arch modern --out "$C/cnn-modern"
      "$GU" ensemble "$C/kmer" "$C/cnn-modern" "$C/ulmfit" --data "$DS" --out "$C/ensemble"
      "$GU" evaluate "$C/kmer" "$C/cnn-cohn" "$C/cnn-modern" "$C/ulmfit" "$C/ensemble" --data "$DS" --split test \
        --out "$C/eval"
      ;;
    cohn_report)   # the same models through the one-command benchmark (report.md / report.html)
      fresh "$W/cohn_report"
      "$GU" benchmark "$W/cohn_human.parquet" --species Human --models kmer,cnn:cohn,cnn:modern,ulmfit --ensemble \
        --lm "$LM" --preset cpu --out "$W/cohn_report"
      ;;
    cohn_recipe)   # the recipe up to the 23rd session (k-mer LR, CNN, gkm-SVM, ULMFiT; benchmarks/holdout.sh with its
      # members named, as the steps below ensemble its kmer, cnn and ulmfit runs): train = seeded train+valid, test = seeded test
      cohn_tsvs
      fresh "$W/cohn_recipe"
      GENOMIC_ULMFIT_LM="$LM" "$ROOT/benchmarks/holdout.sh" "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" "$W/cohn_recipe" \
        --models kmer,cnn,gkm,ulmfit
      ;;
    cohn_recipe_copies)   # the 24th session's recipe (kmer:copies, CNN, gkm:copies, ULMFiT)
      cohn_tsvs
      fresh "$W/cohn_recipe_copies"
      GENOMIC_ULMFIT_LM="$LM" "$ROOT/benchmarks/holdout.sh" "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" \
        "$W/cohn_recipe_copies" --models kmer:copies,cnn,gkm:copies,ulmfit "${COPIES[@]}"
      ;;
    cohn_recipe_jaspar)   # today's recipe as benchmarks/holdout.sh runs it (kmer:copies+motifs, CNN, gkm:copies+motifs,
      # ULMFiT; 25th session)
      cohn_tsvs
      fresh "$W/cohn_recipe_jaspar"
      GENOMIC_ULMFIT_LM="$LM" "$ROOT/benchmarks/holdout.sh" "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" \
        "$W/cohn_recipe_jaspar"
      ;;
    cohn_gkmsvm)   # gkm-SVM on the same train/valid/test, then the recipe + gkm-SVM ensemble (needs cohn_recipe)
      fresh "$W/cohn_gkmsvm"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models gkmsvm --out "$W/cohn_gkmsvm"
      R="$W/cohn_recipe/runs"
      "$GU" ensemble "$R/kmer" "$R/cnn" "$R/ulmfit" "$W/cohn_gkmsvm/runs/gkmsvm" --data "$W/cohn_recipe/train_split.parquet" \
        --out "$W/cohn_gkmsvm/ensemble4"
      "$GU" evaluate "$R/kmer" "$R/cnn" "$R/ulmfit" "$W/cohn_gkmsvm/runs/gkmsvm" "$R/ensemble" "$W/cohn_gkmsvm/ensemble4" \
        --data "$W/cohn_human.parquet" --split test --out "$W/cohn_gkmsvm/eval"
      ;;
    cohn_gkm)   # the native gkm-SVM (--model gkm) beside the k-mer LR and the CNN, recipe protocol, no LM needed
      # (twelfth session; same TRAIN, held-out 10% and TEST as cohn_recipe)
      cohn_tsvs
      fresh "$W/cohn_gkm"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models kmer,cnn,gkm --out "$W/cohn_gkm"
      ;;
    cohn_ablations)   # ULMFiT without genome pretraining / without LM fine-tuning / without any LM (recipe protocol)
      fresh "$W/cohn_ablations"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit:noft,ulmfit:nolm,ulmfit:scratch \
        --lm "$LM" --out "$W/cohn_ablations"
      ;;
    cohn_lm_seeds)   # ULMFiT on the recipe protocol with the 24 M- and 48 M-token LMs and two seeds (needs cohn_recipe)
      # run 2 of build_lm.sh. The 24m/seed-0 ULMFiT is cohn_recipe's own run from when the 24m LM was the default
      # (GENOMIC_ULMFIT_LM=<24m LM> real_data.sh WORK cohn_recipe).
      L24=${GENOMIC_ULMFIT_LM_24M:-$LMS/primate-cpu-k4s2-24m}
      fresh "$W/cohn_ulmfit_seed1"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit --lm "$L24" --seed 1 --out "$W/cohn_ulmfit_seed1"
      for s in 0 1; do
        fresh "$W/cohn_ulmfit48_seed$s"
        "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit --lm "$L48" --seed $s \
          --out "$W/cohn_ulmfit48_seed$s"
      done
      fresh "$W/cohn_noft48"   # the one ablation that uses the genome LM, with the 48m LM
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit:noft --lm "$L48" --out "$W/cohn_noft48"
      # the recipe's ensemble with the 48m ULMFiT: the seed-0 k-mer and CNN runs of cohn_recipe share its TRAIN/valid split
      R="$W/cohn_recipe/runs" U="$W/cohn_ulmfit48_seed0/runs/ulmfit"
      "$GU" ensemble "$R/kmer" "$R/cnn" "$U" --data "$W/cohn_recipe/train_split.parquet" --out "$W/cohn_ulmfit48_seed0/ensemble"
      "$GU" evaluate "$R/kmer" "$R/cnn" "$R/ulmfit" "$U" "$W/cohn_ulmfit48_seed0/ensemble" \
        --data "$W/cohn_human.parquet" --split test --out "$W/cohn_ulmfit48_seed0/eval"
      ;;
    cohn_ulmfit72)   # ULMFiT on the 72 M-token LM (run 4 of build_lm.sh), recipe protocol (ninth session), then the
      # recipe's models (default LM) and it on the same TEST (tenth session; needs cohn_recipe)
      fresh "$W/cohn_ulmfit72"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit --lm "$L72" \
        --out "$W/cohn_ulmfit72"
      R="$W/cohn_recipe/runs"
      "$GU" evaluate "$R/kmer" "$R/cnn" "$R/ulmfit" "$W/cohn_ulmfit72/runs/ulmfit" "$R/ensemble" \
        --data "$W/cohn_human.parquet" --split test --out "$W/cohn_lm_lengths/eval"
      ;;
    cohn_paper)   # ULMFiT on the seed-size genome LM (build_lm.sh --paper, 20 M parameters; the classifier keeps the
      # LM's sizes and takes the cpu preset's schedule), without LM fine-tuning, recipe protocol; then the k-mer LR,
      # CNN and gkm-SVM of cohn_gkm (same TRAIN, held-out 10% and TEST; needs cohn_gkm, not the cpu-size LM) with
      # it in one ensemble, scored beside cohn_recipe's ULMFiT and ensemble when that step's runs exist.
      # GENOMIC_ULMFIT_LM_PAPER picks another LM of that size (e.g. a partial run of the chain, as the 21st session
      # did); by default build_lm.sh builds or finishes the chain first.
      LP=$(paper_lm)
      fresh "$W/cohn_paper"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit:noft --lm "$LP" --out "$W/cohn_paper"
      G="$W/cohn_gkm/runs" R="$W/cohn_recipe/runs" UP="$W/cohn_paper/runs/ulmfit-noft"
      "$GU" ensemble "$G/kmer" "$G/cnn" "$G/gkm" "$UP" --data "$W/cohn_gkm/train_split.parquet" --out "$W/cohn_paper/ensemble"
      RECIPE=()
      if [ -d "$R/ulmfit" ]; then RECIPE=("$R/ulmfit" "$R/ensemble"); fi
      "$GU" evaluate "$G/kmer" "$G/cnn" "$G/gkm" ${RECIPE[@]+"${RECIPE[@]}"} "$UP" "$G/ensemble" "$W/cohn_paper/ensemble" \
        --data "$W/cohn_human.parquet" --split test --out "$W/cohn_paper/eval"
      ;;
    cohn_paper_ft)   # as cohn_paper's ULMFiT, with the LM fine-tuned on TRAIN first (`ulmfit`: the cpu preset's
      # 4 epochs at 2e-3, the seed's being 8 at 1e-3; then the same classifier), scored beside cohn_paper's runs (needs cohn_paper)
      LP=$(paper_lm)
      fresh "$W/cohn_paper_ft"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit --lm "$LP" --out "$W/cohn_paper_ft"
      G="$W/cohn_gkm/runs"
      "$GU" evaluate "$G/kmer" "$G/gkm" "$W/cohn_paper/runs/ulmfit-noft" "$W/cohn_paper_ft/runs/ulmfit" \
        "$W/cohn_paper/ensemble" --data "$W/cohn_human.parquet" --split test --out "$W/cohn_paper_ft/eval"
      ;;
    cohn_3mer)   # ULMFiT with 3-mer/1 tokens on its own genome LM (build_lm.sh --3mer), recipe protocol (needs cohn_lm_seeds)
      L3=$("$ROOT/benchmarks/build_lm.sh" --3mer)
      fresh "$W/cohn_3mer"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit --lm "$L3" --out "$W/cohn_3mer"
      # 4-model ensemble: the recipe's k-mer and CNN, the 4-mer/2 ULMFiT on the 48m LM, the 3-mer/1 ULMFiT (same split)
      R="$W/cohn_recipe/runs" U="$W/cohn_ulmfit48_seed0/runs/ulmfit" U3="$W/cohn_3mer/runs/ulmfit"
      "$GU" ensemble "$R/kmer" "$R/cnn" "$U" "$U3" --data "$W/cohn_recipe/train_split.parquet" --out "$W/cohn_3mer/ensemble"
      "$GU" evaluate "$R/kmer" "$R/cnn" "$U" "$U3" "$W/cohn_ulmfit48_seed0/ensemble" "$W/cohn_3mer/ensemble" \
        --data "$W/cohn_human.parquet" --split test --out "$W/cohn_3mer/eval"
      ;;
    cohn_comp)   # ULMFiT with the composition head (ulmfit:comp), recipe protocol; same LM, seed and split as
      # cohn_ulmfit48_seed0's ULMFiT, so the two differ only in the head (needs cohn_recipe, cohn_lm_seeds)
      fresh "$W/cohn_comp"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models ulmfit:comp --lm "$L48" --out "$W/cohn_comp"
      U="$W/cohn_ulmfit48_seed0/runs/ulmfit"
      "$GU" evaluate "$U" "$W/cohn_comp/runs/ulmfit-comp" --data "$W/cohn_human.parquet" --split test --out "$W/cohn_comp/eval"
      ;;
    cohn_learning_curve)   # the recipe's members (ULMFiT without LM fine-tuning) on 1/8, 1/4, 1/2 of TRAIN, same TEST;
      # the full-TRAIN points are cohn_recipe (k-mer, CNN) and cohn_noft48 (ULMFiT). ~75 min on one thread
      fresh "$W/cohn_learning_curve"
      "$ROOT/.venv/bin/python" "$ROOT/benchmarks/learning_curve.py" "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" \
        "$W/cohn_learning_curve" --models kmer,cnn:modern,ulmfit:noft --lm "$L48" --fractions 0.125,0.25,0.5 --seeds 0,1
      fresh "$W/cohn_learning_curve_kmer"   # the k-mer LR alone, three seeds, 1 min
      "$ROOT/.venv/bin/python" "$ROOT/benchmarks/learning_curve.py" "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" \
        "$W/cohn_learning_curve_kmer" --models kmer --fractions 0.125,0.25,0.5,1 --seeds 0,1,2
      ;;
    cohn_cv)
      fresh "$W/cohn_cv"
      "$GU" cv "$W/cohn_human.parquet" --models kmer,cnn:cohn,cnn:modern --folds 5 --near-k 31 --out "$W/cohn_cv"
      ;;
    cohn_cv_ulmfit)   # same folds as cohn_cv, with ULMFiT and the ensemble. ~35 min per fold on one thread:
      # no `fresh`, and --resume loads the folds an earlier run finished
      "$GU" cv "$W/cohn_human.parquet" --models kmer,cnn:modern,ulmfit --lm "$LM" --folds 5 --near-k 31 \
        --out "$W/cohn_cv_ulmfit" --resume
      ;;
    cohn_cv_gkm)   # same folds as cohn_cv, the native gkm-SVM beside the k-mer LR and the CNN (twelfth session)
      "$GU" cv "$W/cohn_human.parquet" --models kmer,cnn:modern,gkm --folds 5 --near-k 31 --out "$W/cohn_cv_gkm" --resume
      ;;
    cohn_copies)   # the k-mer LR and gkm-SVM with genome copy numbers beside the LM-free members, recipe protocol
      # (twenty-fourth session)
      cohn_tsvs
      fresh "$W/cohn_copies"
      "$GU" holdout "$W/cohn_trainvalid.tsv.gz" "$W/cohn_test.tsv.gz" --models kmer,kmer:copies,cnn,gkm,gkm:copies \
        "${COPIES[@]}" --out "$W/cohn_copies"
      R="$W/cohn_copies/runs"
      "$GU" ensemble "$R/kmer" "$R/cnn" "$R/gkm" --data "$W/cohn_copies/train_split.parquet" --out "$W/cohn_copies/ens_kmer"
      "$GU" ensemble "$R/kmer-copies" "$R/cnn" "$R/gkm" --data "$W/cohn_copies/train_split.parquet" \
        --out "$W/cohn_copies/ens_copies"
      "$GU" ensemble "$R/kmer-copies" "$R/cnn" "$R/gkm-copies" --data "$W/cohn_copies/train_split.parquet" \
        --out "$W/cohn_copies/ens_copies2"
      "$GU" evaluate "$R/kmer" "$R/kmer-copies" "$R/cnn" "$R/gkm" "$R/gkm-copies" "$W/cohn_copies/ens_kmer" \
        "$W/cohn_copies/ens_copies" "$W/cohn_copies/ens_copies2" --data "$W/cohn_human.parquet" --split test \
        --out "$W/cohn_copies/eval"
      ;;
    cohn_cv_copies)   # same folds as cohn_cv, kmer:copies and gkm:copies beside the k-mer LR, CNN and gkm-SVM (24th session)
      "$GU" cv "$W/cohn_human.parquet" --models kmer,kmer:copies,cnn:modern,gkm,gkm:copies --folds 5 --near-k 31 "${COPIES[@]}" \
        --out "$W/cohn_cv_copies" --resume
      ;;
    cohn_motifs_jaspar)   # which of the 879 JASPAR vertebrate motifs separate Cohn's classes beyond GC (25th session)
      "$GU" motifs "$W/cohn_human.parquet" --jaspar jaspar --out "$W/cohn_motifs_jaspar.tsv"
      ;;
    cohn_cv_jaspar)   # same folds, the k-mer LR and gkm-SVM with JASPAR motif scores (25th session; the CNN's folds are
      # loaded from a copy of cohn_cv_copies when this folder starts as one)
      "$GU" cv "$W/cohn_human.parquet" --models kmer:motifs,kmer:copies+motifs,cnn:modern,gkm:copies+motifs --folds 5 \
        --near-k 31 "${COPIES[@]}" --out "$W/cohn_cv_jaspar" --resume
      ;;
    ienhancer)
      fresh "$W/ienhancer_cv"
      "$GU" cv "$W/ienhancer.parquet" --models kmer,cnn:cohn,cnn:modern --folds 5 --near-k 31 --out "$W/ienhancer_cv"
      ;;
    ienhancer_ulmfit)   # same folds (same seed and --near-k), with ULMFiT and the 3-model ensemble
      fresh "$W/ienhancer_cv_ulmfit"
      "$GU" cv "$W/ienhancer.parquet" --models kmer,cnn:modern,ulmfit --lm "$LM" --folds 5 --near-k 31 \
        --out "$W/ienhancer_cv_ulmfit"
      ;;
    ienhancer_3mer)   # same folds, ULMFiT with 3-mer/1 tokens on its own genome LM (build_lm.sh --3mer)
      L3=$("$ROOT/benchmarks/build_lm.sh" --3mer)
      fresh "$W/ienhancer_cv_3mer"
      "$GU" cv "$W/ienhancer.parquet" --models kmer,cnn:modern,ulmfit --lm "$L3" --folds 5 --near-k 31 \
        --out "$W/ienhancer_cv_3mer"
      ;;
    ienhancer_4)   # same folds, the four models k-mer LR, CNN modern, gkm-SVM, ULMFiT and their ensemble (ninth session)
      fresh "$W/ienhancer_cv_4"
      "$GU" cv "$W/ienhancer.parquet" --models kmer,cnn:modern,gkmsvm,ulmfit --lm "$LM" --folds 5 --near-k 31 \
        --out "$W/ienhancer_cv_4"
      ;;
    ienhancer_gkm)   # same folds, the native gkm-SVM beside the k-mer LR and the CNN (twelfth session)
      "$GU" cv "$W/ienhancer.parquet" --models kmer,cnn:modern,gkm --folds 5 --near-k 31 --out "$W/ienhancer_cv_gkm" --resume
      ;;
    ienhancer_copies)   # same folds, kmer:copies and gkm:copies beside the k-mer LR, gkm-SVM and the CNN (24th session)
      "$GU" cv "$W/ienhancer.parquet" --models kmer,kmer:copies,gkm,cnn:modern,gkm:copies --folds 5 --near-k 31 "${COPIES[@]}" \
        --out "$W/ienhancer_cv_copies" --resume
      ;;
    ienhancer_jaspar)   # same folds, with JASPAR motif scores (25th session)
      "$GU" cv "$W/ienhancer.parquet" --models kmer:motifs,kmer:copies+motifs,cnn:modern,gkm:copies,gkm:copies+motifs \
        --folds 5 --near-k 31 "${COPIES[@]}" --out "$W/ienhancer_cv_jaspar" --resume
      ;;
    vista)
      fresh "$W/vista_cv"
      "$GU" cv "$W/vista.parquet" --models kmer,cnn:modern --folds 5 --near-k 31 --out "$W/vista_cv"
      ;;
    vista_ulmfit)   # same folds as vista, with ULMFiT and the 3-model ensemble. Hours per fold on one thread
      # (elements up to 8 kb): no `fresh`; --resume loads finished folds and continues a stopped fit from its last
      # epoch. To use several cores, first run `cv ... --fold K` once per core with the same --out.
      "$GU" cv "$W/vista.parquet" --models kmer,cnn:modern,ulmfit --lm "$LM" --folds 5 --near-k 31 \
        --out "$W/vista_cv_ulmfit" --resume
      ;;
    vista_gkm)   # same folds, the native gkm-SVM beside the k-mer LR (twelfth session; the CNN's row is the vista step's)
      "$GU" cv "$W/vista.parquet" --models kmer,gkm --folds 5 --near-k 31 --out "$W/vista_cv_gkm" --resume
      ;;
    vista_copies)   # same folds, kmer:copies and gkm:copies beside the k-mer LR and gkm-SVM (24th session)
      "$GU" cv "$W/vista.parquet" --models kmer,kmer:copies,gkm,gkm:copies --folds 5 --near-k 31 "${COPIES[@]}" --out "$W/vista_cv_copies" --resume
      ;;
    vista_jaspar)   # same folds, with JASPAR motif scores (25th session)
      "$GU" cv "$W/vista.parquet" --models kmer:copies,kmer:copies+motifs,gkm:copies,gkm:copies+motifs --folds 5 --near-k 31 \
        "${COPIES[@]}" --out "$W/vista_cv_jaspar" --resume
      ;;
    nhlf)
      fresh "$W/nhlf_cv"
      "$GU" cv "$W/nhlf.parquet" --models kmer,cnn:modern --folds 5 --near-k 31 --out "$W/nhlf_cv"
      ;;
    nhlf_ulmfit)   # same folds as nhlf, with ULMFiT and the 3-model ensemble. ~9 min per fold (bf16, two threads;
      # 35 min in fp32 on one): no `fresh`, and --resume loads the folds an earlier run finished
      "$GU" cv "$W/nhlf.parquet" --models kmer,cnn:modern,ulmfit --lm "$LM" --folds 5 --near-k 31 \
        --out "$W/nhlf_cv_ulmfit" --resume
      ;;
    nhlf_gkm)   # same folds, the native gkm-SVM beside the k-mer LR and the CNN (twelfth session)
      "$GU" cv "$W/nhlf.parquet" --models kmer,cnn:modern,gkm --folds 5 --near-k 31 --out "$W/nhlf_cv_gkm" --resume
      ;;
    nhlf_copies)   # same folds, kmer:copies and gkm:copies beside the k-mer LR and gkm-SVM (24th session)
      "$GU" cv "$W/nhlf.parquet" --models kmer,kmer:copies,gkm,gkm:copies --folds 5 --near-k 31 "${COPIES[@]}" --out "$W/nhlf_cv_copies" --resume
      ;;
    nhlf_jaspar)   # same folds, with JASPAR motif scores (25th session)
      "$GU" cv "$W/nhlf.parquet" --models kmer:copies,kmer:copies+motifs,gkm:copies,gkm:copies+motifs --folds 5 --near-k 31 \
        "${COPIES[@]}" --out "$W/nhlf_cv_jaspar" --resume
      ;;
    leakage)
      for s in cohn_human ienhancer vista nhlf; do
        "$GU" data check "$W/$s.parquet" --near-k 31 --json "$W/$s.leakage.json" || true
      done
      "$GU" data check "$W/ienhancer.parquet" "$W/cohn_human.parquet" --near-k 31 || true
      ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
