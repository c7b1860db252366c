#!/usr/bin/env bash
# The same workflow as coopy.toml, as a plain script: every step in sequence.
set -euo pipefail
samples=(A B C)
bwa index data/genome.fa
mkdir -p mapped_reads sorted_reads calls
for s in "${samples[@]}"; do
    bwa mem data/genome.fa "data/samples/$s.fastq" | samtools view -Sb - > "mapped_reads/$s.bam"
    samtools sort -T "mapped_reads/$s.tmp" -O bam -o "sorted_reads/$s.bam" "mapped_reads/$s.bam"
    samtools index "sorted_reads/$s.bam"
done
bams=()
for s in "${samples[@]}"; do bams+=("sorted_reads/$s.bam"); done
bcftools mpileup --no-version -f data/genome.fa "${bams[@]}" | bcftools call --no-version -mv - > calls/all.vcf
python3 plot_quals.py calls/all.vcf plots/quals.svg
