#!/bin/bash
# One benchmark step: stamp start and end with bash's clock builtin (no fork), sleep in between.
# usage: step.sh STAMPS_FILE STAGE TASK SECONDS
s=$EPOCHREALTIME
if [ "$4" != "0" ]; then sleep "$4"; fi
e=$EPOCHREALTIME
echo "$2 $3 $s $e" >> "$1"
