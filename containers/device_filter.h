// Which devices a container may make and open: its device cgroup rules
// (linux.resources.devices), which cgroup v2 enforces with an eBPF program
// (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's group, and
// cgroup v1 with its devices hierarchy's lists.
#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "containers/cgroup_resources.h"
#include "containers/spec.h"

#include <linux/bpf.h>
#include <vector>

namespace keel::oci {

/// One eBPF instruction, laid out as struct bpf_insn (x86-64, little
/// endian: dst_reg in the low nibble of `registers`) without its bit
/// fields, which GCC 12's -O2 misjudges in a std::vector.
struct BpfInstruction {
    uint8_t code = 0;
    uint8_t registers = 0; // dst | src << 4
    int16_t off = 0;
    int32_t imm = 0;
};
static_assert(sizeof(BpfInstruction) == sizeof(bpf_insn));

/// The rules a container gets, in order (a later rule overrides an earlier
/// one): the spec's linux.resources.devices, then, allowed, what every
/// container needs as runc gives it (mknod of any node; read, write and
/// mknod of null, zero, full, random, urandom, tty, ptmx, the pts and
/// tun), then the spec's linux.devices.
std::vector<DeviceRule> effective_device_rules(const Spec& spec);

/// The rules as a program: for a device access, the last rule that
/// matches its type, major, minor and every bit of its access decides;
/// none: denied.
std::vector<BpfInstruction> compile_device_filter(const std::vector<DeviceRule>& rules);

/// Loads the program (the kernel's verifier checks it); its fd.
Result<Fd> load_device_filter(const std::vector<BpfInstruction>& program);

/// Attaches a loaded program to the cgroup (allowing more below it); it
/// stays with the group when the fds are closed.
Result<void> attach_device_filter(int cgroup_directory, int program);

/// Device rules (effective_device_rules()) as cgroup v1 writes, with the
/// outcome cgroup v2's filter gives them (the last matching rule wins):
/// "a" to devices.deny (or devices.allow), then the exceptions to that
/// default, one write each ("c 1:3 rwm", "*" for any number). What v1's
/// list cannot say is an error naming the rule: a rule for all devices
/// limited to some numbers or accesses, or one taking access away from
/// part of an earlier, wider exception ("c 4:* rwm" denied after
/// "c *:* rwm" allowed).
Result<std::vector<CgroupWrite>> device_writes_v1(const std::vector<DeviceRule>& rules);

} // namespace keel::oci
