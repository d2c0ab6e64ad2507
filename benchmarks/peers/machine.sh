# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
# shellcheck shell=bash
#
# Sourced by benchmarks/compare_peers.sh and benchmarks/compare_sweep.sh: samples the load
# during a run and writes the machine's part of its meta.json.

loads=()
# Records the 1-minute load average now.
load_sample() { loads+=("$(cut -d' ' -f1 /proc/loadavg)"); }

# machine_meta FILE MEMBERS: writes FILE as one JSON object with the date, the CPU (model and
# vector extensions), cores, compiler, the load range of the samples, and MEMBERS (more
# '"key": "value"' pairs, comma-separated).
machine_meta() {
  local cpu flags isa
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  isa=$(for f in avx512f avx2 fma; do [[ " $flags " == *" $f "* ]] && printf '%s ' "$f"; done)
  cat > "$1" <<JSON
{"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "cpu": "$cpu (${isa% })", "cores": "$(nproc)",
 "compiler": "$(c++ --version | head -1), -O3 -march=native",
 "load": "min $(printf '%s\n' "${loads[@]}" | sort -n | head -1), max $(printf '%s\n' "${loads[@]}" | sort -n | tail -1)",
 $2}
JSON
}
