# shellcheck shell=bash
# tests/qemu/livepatch_modules.sh: builds real live patch modules at test time
# for the kernel tools/keel-qemu boots, with Debian's linux-headers for it.
# Sourced by the livepatch_* QEMU tests and tests/bench/livepatch_load.sh
# (after lib.sh, or with `lp_fail` defined). Functions:
#
#   lp_kernel_version            the release keel-qemu boots (newest /boot/vmlinuz-*)
#   lp_require_headers KVER      exit 77 (skip) unless kbuild for KVER is installed
#   lp_build_patch DIR NAME TEXT KVER
#                                DIR/NAME.ko: a klp_patch whose cmdline_proc_show
#                                prints TEXT (so /proc/cmdline shows TEXT)
#   lp_wrong_vermagic IN OUT KVER
#                                a copy of IN whose vermagic names another release
#                                (same length, every digit of KVER moved on by one)

lp_kernel_version() {
  local kernel
  kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%p\n' 2>/dev/null | sort -V | tail -n 1)
  echo "${kernel##*/vmlinuz-}"
}

lp_require_headers() {
  local kver=$1
  if [ ! -f "/lib/modules/$kver/build/Makefile" ]; then
    echo "SKIP: no kbuild tree for $kver (tools/setup.sh installs linux-headers-$kver)"
    exit 77
  fi
  if ! command -v make >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1; then
    echo "SKIP: building a kernel module needs make and gcc (tools/setup.sh installs them)"
    exit 77
  fi
}

lp_build_patch() {
  local dir=$1 name=$2 text=$3 kver=$4
  mkdir -p -- "$dir/$name.build"
  # The replacement prints a fixed text: /proc/cmdline shows it while the
  # patch is enabled and the original command line once it is disabled.
  cat >"$dir/$name.build/$name.c" <<EOF
// Live patch for keel's tests: replaces cmdline_proc_show.
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

static int patched_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\n", "$text");
	return 0;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = patched_cmdline_proc_show, },
	{ }
};

static struct klp_object objs[] = {
	{ .funcs = funcs, }, /* .name NULL: vmlinux */
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int patch_init(void)
{
	return klp_enable_patch(&patch);
}

static void patch_exit(void)
{
}

module_init(patch_init);
module_exit(patch_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
EOF
  echo "obj-m := $name.o" >"$dir/$name.build/Makefile"
  if ! make -C "/lib/modules/$kver/build" M="$dir/$name.build" modules \
    >"$dir/$name.build/build.log" 2>&1; then
    cat "$dir/$name.build/build.log" >&2
    lp_fail "building the live patch module $name failed (log above)"
  fi
  cp -- "$dir/$name.build/$name.ko" "$dir/$name.ko"
}

lp_wrong_vermagic() {
  local in=$1 out=$2 kver=$3 other
  other=$(echo "$kver" | tr '0-9' '1-90')
  # Binary-safe: perl reads the whole file as one record.
  perl -0777 -pe "s/vermagic=\\Q$kver\\E/vermagic=$other/g" <"$in" >"$out"
  cmp -s -- "$in" "$out" && lp_fail "could not change the vermagic of $in"
  return 0
}

# The harness's qt_fail when lib.sh is loaded; a plain exit otherwise.
if ! declare -F lp_fail >/dev/null; then
  lp_fail() {
    if declare -F qt_fail >/dev/null; then
      qt_fail "$@"
    fi
    echo "FAIL: $*" >&2
    exit 1
  }
fi
