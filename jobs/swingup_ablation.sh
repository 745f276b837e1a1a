#!/usr/bin/env bash
# Swing-up ablation: every variant x every seed, then each champion's report, then one table.
#
#   GENERATIONS=256 SEEDS="1 2 3 4 5" OUT=runs/ablation bash jobs/swingup_ablation.sh [VARIANT...]
#
# A variant is a name and its --set items (the table in this file). Runs that finished are
# skipped, runs with checkpoints are resumed, so the script can be stopped and started again.
# NP ranks per search (default: all cores). REPORT_FLAGS go to every `python -m src.report`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
MPIEXEC=${MPIEXEC:-.venv/bin/mpiexec}
NP=${NP:-$(nproc)}
OUT=${OUT:-runs/ablation}
GENERATIONS=${GENERATIONS:-256}
SEEDS=${SEEDS:-"1 2 3 4 5"}
REPORT_FLAGS=${REPORT_FLAGS-"--tune-generations 60"}

# name | --set items (reference = the authors' code: layered links, clones, best of two
# tournaments of 8 = one of 16, elites from the culled pool (0.2 * 154 = 30 of 192),
# their crowding; champuni / strat / stratuni: random shared weights in the champion's
# re-scoring and / or the search)
# Every variant but `default`, `previous`, `fast`, `tourn4`, `starts3`, `starts5`, `nostep`,
# `nsga3obj`, `nsga3log`, `startmax`, `starts64`, `elite10`, `elite30`, `moo065`, `tuned`,
# `noise`, `startnsga` and `startnsga96` starts from the series rules (S below: the search's
# weights and the champion's are the fixed series) with glibc's activations and one start
# (L: what every ablation before the swing-up defaults of 1 December 2026 ran with), so each
# switches one thing on over them. `previous`: the defaults before independent starts and fast activations;
# `fast`: today's defaults with one start; `tourn4`: that with tournaments of 4; `starts3` /
# `starts5`: three / five starts (today's `default`: four); `nostep`: today's defaults
# without step nodes; `nsga3obj`: today's defaults ranked on all three objectives at once;
# `moo065`: today's defaults with the max objective in 35 % of the generations (paper: 20);
# `tuned`: today's defaults going on from the start whose best genome tunes best
# (`start_pick = 'tuned'`, a 150-generation PEPG probe per start); `noise`: today's
# defaults with per-connection noise in the search's rollouts; `startnsga`: the starts
# ranked on all three objectives, the go-on as the paper (`startnsga96`: starts of 96).
# The defaults before 2 December 2026 (late) ranked on 1 / connections (`complexity =
# 'inverse'`, the reference's); every variant measured before then keeps that, so its
# committed table is what it makes again. `log`: today's `default`, by name; `nsga3log`:
# today's defaults on all three objectives, connections as their log (`ranking = 'nsga3'`);
# `startmax`, `starts64`, `elite10`, `elite30`: today's defaults with the start of the highest
# max reward, starts of 64 generations, 10 % or 30 % elites.
I="complexity='inverse'"
L="$I swingup_math='libm' starts=1"
S="$L weight_sampling='series' champion_weights='series'"
declare -A VARIANTS=(
  [default]=""
  [log]=""
  [inverse]="$I"
  [previous]="$L"
  [fast]="$I starts=1"
  [tourn4]="$I starts=1 tourn_size=4"
  [starts3]="$I starts=3 start_generations=128"
  [starts5]="$I starts=5 start_generations=128"
  [nostep]="$I activations=['linear','sin','gaussian','tanh','sigmoid','inverse','abs','relu','cos']"
  [nsga3obj]="$I ranking='nsga3obj'"
  [nsga3log]="ranking='nsga3'"
  [startmax]="start_pick='max'"
  [starts64]="start_generations=64"
  [elite10]="elite_ratio=0.1"
  [elite30]="elite_ratio=0.3"
  [moo065]="$I prob_moo=0.65"
  [tuned]="$I start_pick='tuned' start_probe_generations=150"
  [noise]="$I weight_noise=0.15"
  [startnsga]="$I start_ranking='nsga3obj'"
  [startnsga96]="$I start_ranking='nsga3obj' start_generations=96"
  [plain]="$S champion_reps=0"
  [champion]="$S champion_reps=16"
  [layered]="$S champion_reps=16 add_connection='layered'"
  [clone]="$S champion_reps=16 mutation_no_op='clone'"
  [tourn16]="$S champion_reps=16 tourn_size=16 elite_ratio=0.16"
  [crowdref]="$S champion_reps=16 crowding='reference'"
  [jitter]="$S champion_reps=16 weight_jitter=0.347"
  [champuni]="$S champion_reps=16 champion_weights='uniform'"
  [strat]="$S champion_reps=16 weight_sampling='stratified'"
  [stratuni]="$S champion_reps=16 weight_sampling='stratified' champion_weights='uniform'"
  [reference]="$S champion_reps=16 add_connection='layered' mutation_no_op='clone' tourn_size=16 elite_ratio=0.16 crowding='reference'"
)
ORDER=(plain champion layered clone tourn16 crowdref jitter reference)
if [ $# -gt 0 ]; then ORDER=("$@"); fi

for name in "${ORDER[@]}"; do
  sets=()
  for item in ${VARIANTS[$name]}; do sets+=(--set "$item"); done
  for seed in $SEEDS; do
    run="$OUT/$name/seed_$seed"
    if [ -f "$run/report/table.csv" ]; then continue; fi
    if [ -f "$run/done" ]; then :
    elif ls "$run"/checkpoints/gen_*.h5 >/dev/null 2>&1; then
      "$MPIEXEC" -n "$NP" "$PY" -m src.master --resume "$run" --generations "$GENERATIONS" | tail -1
      touch "$run/done"
    else
      mkdir -p "$OUT/$name"
      "$MPIEXEC" -n "$NP" "$PY" -m src.master --task swingup --seed "$seed" \
        --generations "$GENERATIONS" "${sets[@]}" --out "$run" | tail -1
      touch "$run/done"
    fi
    # shellcheck disable=SC2086
    "$MPIEXEC" -n "$NP" "$PY" -m src.report "$run" $REPORT_FLAGS | tail -1
  done
done
