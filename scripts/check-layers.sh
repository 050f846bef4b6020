#!/usr/bin/env bash
# Checks the direction of dependencies between rtcsec's folders
# (../shared/docs/architecture.md): every file may include headers of its
# own folder and of the layers below it, never of a layer above, and the
# programs use public headers only.
#
#   layer 1  lib/           the DTLS core
#   layer 2  srtp_bridge/   libsrtp2 sessions, the transport
#   layer 3  ice/           STUN, the ICE-lite router, the UDP driver, libnice
#   layer 3  datachannel/   SCTP over DTLS (usrsctp)
#   layer 4  tools/         programs: public headers (rtcsec/*.h) and their own
#   bench/, examples/       programs: public headers and their own (bench may
#                           use the tools' helper; kem_bench and the SRTP cipher
#                           bench measure internals: see ALLOWED below)
# Folders of one layer (ice/, datachannel/) do not include each other.
#
# Usage: scripts/check-layers.sh [ROOT]   (default: the repository)
# Prints one line per violation and exits 1 if there is any.
set -euo pipefail

root=${1:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
exec "$PY" - "$root" <<'EOF'
import os, re, sys

root = sys.argv[1]
LAYER = {"lib": 1, "srtp_bridge": 2, "ice": 3, "datachannel": 3, "tools": 4}
PROGRAMS = {"tools", "bench", "examples"}
# Programs that measure internals on purpose (each says why in its header).
ALLOWED = {
    ("bench/kem_bench.c", "lib"),  # ML-KEM and key-share internals, no public API
}
include_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

def folder_of(path):
    return os.path.relpath(path, root).split(os.sep)[0]

# Every header, by the name it is included with.
public = {}    # "rtcsec/x.h" -> folder
internal = {}  # "x.h" -> folder (headers directly in a layer folder)
for top in LAYER:
    d = os.path.join(root, top)
    if not os.path.isdir(d):
        continue
    inc = os.path.join(d, "include", "rtcsec")
    if os.path.isdir(inc):
        for f in os.listdir(inc):
            if f.endswith(".h"):
                public["rtcsec/" + f] = top
    for f in os.listdir(d):
        if f.endswith(".h"):
            internal[f] = top

bad = 0
for top in list(LAYER) + ["bench", "examples"]:
    d = os.path.join(root, top)
    if not os.path.isdir(d):
        continue
    for dirpath, _, files in os.walk(d):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            src = open(path, encoding="utf-8", errors="replace").read()
            for name in include_re.findall(src):
                if os.path.exists(os.path.join(dirpath, name)):
                    continue  # a header next to it: same folder
                if name in public:
                    target, kind = public[name], "public"
                elif name in internal:
                    target, kind = internal[name], "internal"
                else:
                    continue  # generated or system-like (e.g. echo_assets.h)
                if top in PROGRAMS:
                    # tools/util.h, the programs' shared helper, is for the
                    # programs of tools/ and bench/; examples stand alone.
                    helper = target == "tools" and top in ("tools", "bench")
                    if kind == "internal" and not helper and (rel, target) not in ALLOWED:
                        print(f"{rel}: includes {target}/{name}, an internal header: "
                              f"programs use the public API only")
                        bad += 1
                    continue
                if LAYER[target] > LAYER[top] or (LAYER[target] == LAYER[top] and target != top):
                    print(f"{rel}: includes {name} from {target}/ (layer {LAYER[target]}), "
                          f"above or beside {top}/ (layer {LAYER[top]})")
                    bad += 1
print("check-layers: " + ("OK" if bad == 0 else f"{bad} include(s) against the layers"),
      file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
