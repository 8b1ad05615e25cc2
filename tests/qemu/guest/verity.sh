#!/bin/sh
# The booted root as dm-verity serves it: `/` must be mounted from a
# device-mapper device named keel-root whose verity target has met no
# corrupt block, and `keel update status` must see slot $1 (A or B) as
# the booted one through it; prints what it finds, then VERITY: PASS or
# FAIL, and ends with keel poweroff.
slot=$1
root=$(awk '$5 == "/" { for (i = 7; i <= NF; i++) if ($i == "-") { print $3, $(i + 1), $(i + 2); exit } }' /proc/self/mountinfo)
echo "VERITY root: $root"
# shellcheck disable=SC2086 # three words on purpose
set -- $root
dm_name=$(cat "/sys/dev/block/$1/dm/name" 2>/dev/null)
echo "VERITY dm name: ${dm_name:-none}"
keel update verity status
ok=1
case "$3" in
    /dev/dm-*) ;;
    *) echo "VERITY: root is mounted from $3, not a dm device"; ok=0 ;;
esac
[ "$2" = erofs ] || { echo "VERITY: root is $2, not erofs"; ok=0; }
[ "$dm_name" = keel-root ] || { echo "VERITY: the root's device is not keel-root"; ok=0; }
keel update verity status | grep -Eq '^keel-root +[0-9]+:[0-9]+ +verity +verified' ||
    { echo "VERITY: keel-root is not listed as a verified verity device"; ok=0; }
keel update status
keel update status | grep -Eq "^$slot +ROOT-$slot .*booted" ||
    { echo "VERITY: keel update status does not show slot $slot as booted"; ok=0; }
if [ "$ok" = 1 ]; then echo "VERITY: PASS"; else echo "VERITY: FAIL"; fi
keel poweroff
