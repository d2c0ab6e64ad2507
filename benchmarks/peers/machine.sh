# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
# shellcheck shell=bash
#
# Sourced by benchmarks/compare_peers.sh and benchmarks/compare_sweep.sh: sets the allocator's
# behaviour for both peers, samples the load during a run and writes the machine's part of its
# meta.json.

# glibc's malloc returns freed memory to the system: a block above its mmap threshold (128 KiB at
# first, raised as such blocks are freed, up to 32 MiB) is unmapped when freed, and the top of
# the heap is trimmed once more than twice that threshold lies free there. Whether a layer's
# result (its output, its input gradient) comes back as memory already mapped or as fresh pages
# then depends on its size and on what the process allocated before (which cases ran earlier in
# the same process), and fresh pages cost a page fault per 4 KiB on every call: on the 2-vCPU
# guest about 11 us each, so ResNet-50's 64->64 1x1 layer at batch 16 took 80 ms per
# forward+backward when its batch-1 case ran first and 8.7 ms alone, and U-Net's 64->2 output
# layer at batch 2 (a 33.5 MB input gradient, always mapped) 124 ms against 9 ms. Both peers run
# with no block mapped per call and the heap never trimmed, so that a case's time is its
# arithmetic and memory traffic, not the order of the cases; a training loop of one's own may
# do the same (docs/performance.md, "Page faults"). Override by setting GLIBC_TUNABLES (empty:
# glibc's defaults).
export GLIBC_TUNABLES=${GLIBC_TUNABLES-glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296}

loads=()
# Records the 1-minute load average now.
load_sample() { loads+=("$(cut -d' ' -f1 /proc/loadavg)"); }

# machine_meta FILE MEMBERS: writes FILE as one JSON object with the date, the CPU (model and
# vector extensions), cores, compiler, the load range of the samples, the allocator's settings
# (GLIBC_TUNABLES), and MEMBERS (more
# '"key": "value"' pairs, comma-separated).
machine_meta() {
  local cpu flags isa
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  isa=$(for f in avx512f avx2 fma; do [[ " $flags " == *" $f "* ]] && printf '%s ' "$f"; done)
  cat > "$1" <<JSON
{"date": "$(date -u '+%Y-%m-%d %H:%M UTC')", "cpu": "$cpu (${isa% })", "cores": "$(nproc)",
 "compiler": "$(c++ --version | head -1), -O3 -march=native",
 "allocator": "GLIBC_TUNABLES=${GLIBC_TUNABLES:-(glibc defaults)}",
 "load": "min $(printf '%s\n' "${loads[@]}" | sort -n | head -1), max $(printf '%s\n' "${loads[@]}" | sort -n | tail -1)",
 $2}
JSON
}
