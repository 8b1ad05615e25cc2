// The KV's on-disk formats (WAL records, snapshot files, the MVCC snapshot)
// write their numbers with base/endian.h's helpers; kv's sources include that
// header, and this name stays for the unit tests that still include it.
#pragma once

#include "base/endian.h"
