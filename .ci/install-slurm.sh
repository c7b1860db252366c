#!/usr/bin/env bash
# Install what CooPy's Slurm tests need (Debian: slurmctld slurmd slurm-client munge) when missing.
# Never fails: if the packages cannot be had, it says why and exits 0, and the Slurm tests skip
# with that reason (the slurm_cluster fixture in tests/conftest.py).
set -uo pipefail
PATH="$PATH:/usr/sbin:/sbin"
export DEBIAN_FRONTEND=noninteractive

missing() {
    local b out=()
    for b in munged mungekey slurmctld slurmd sbatch squeue scontrol sinfo scancel sacct; do
        command -v "$b" >/dev/null 2>&1 || out+=("$b")
    done
    echo "${out[*]:-}"
}

gone="$(missing)"
if [[ -z "$gone" ]]; then
    echo "install-slurm: Slurm and munge already installed"
    exit 0
fi
skip() {
    echo "install-slurm: cannot install Slurm ($*); the Slurm tests will skip"
    exit 0
}
command -v apt-get >/dev/null 2>&1 || skip "no apt-get on this machine; missing: $gone"
[[ "$(id -u)" == 0 ]] || skip "not root; missing: $gone"
echo "install-slurm: missing $gone; installing slurmctld slurmd slurm-client munge"
apt-get update -qq || skip "apt-get update failed"
apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge \
    || skip "apt-get install failed"
gone="$(missing)"
[[ -z "$gone" ]] || skip "installed, but still missing: $gone"
echo "install-slurm: installed"
