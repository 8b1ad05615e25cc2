#!/usr/bin/env python3
"""Docker's seccomp profile format (archMap, includes/excludes by capability
and architecture), as containers-common ships it, turned into the runtime
spec's linux.seccomp for one bundle, as podman does: the rules that apply to
the bundle's bounding capabilities on x86-64.

usage: docker_seccomp.py PROFILE CONFIG_JSON   (CONFIG_JSON is rewritten)
"""
import json
import sys

profile = json.load(open(sys.argv[1]))
path = sys.argv[2]
spec = json.load(open(path))
caps = set(spec["process"]["capabilities"]["bounding"])
arches = []
for entry in profile.get("archMap", []):
    if entry["architecture"] == "SCMP_ARCH_X86_64":
        arches = [entry["architecture"]] + entry.get("subArchitectures", [])


def applies(rule):
    inc, exc = rule.get("includes", {}), rule.get("excludes", {})
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if inc.get("arches") and "amd64" not in inc["arches"]:
        return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    if exc.get("arches") and "amd64" in exc["arches"]:
        return False
    return True


syscalls = []
for rule in profile["syscalls"]:
    if not applies(rule):
        continue
    out = {"names": rule["names"], "action": rule["action"]}
    for key in ("args", "errnoRet"):
        if rule.get(key):
            out[key] = rule[key]
    syscalls.append(out)
seccomp = {"defaultAction": profile["defaultAction"], "architectures": arches,
           "syscalls": syscalls}
if "defaultErrnoRet" in profile:
    seccomp["defaultErrnoRet"] = profile["defaultErrnoRet"]
spec["linux"]["seccomp"] = seccomp
json.dump(spec, open(path, "w"), indent=1)
