#!/bin/bash
# One step of the graph workload (W4): every input must exist (the graph's order was kept), its duration
# is read from DURATIONS/STAGE/RUN (a builtin `read`, no process), stamps like step.sh, then OUT is made.
# usage: gstep.sh DURATIONS STAMPS STAGE RUN OUT [INPUT...]
dur=$1 stamps=$2 stage=$3 run=$4 out=$5
shift 5
s=$EPOCHREALTIME
for f in "$@"; do
    if [ ! -e "$f" ]; then echo "gstep: $stage/$run: input $f is missing" >&2; exit 3; fi
done
read -r d < "$dur/$stage/$run"
if [ "$d" != "0" ]; then sleep "$d"; fi
: > "$out"
e=$EPOCHREALTIME
echo "$stage $run $s $e" >> "$stamps"
