# Toolchain for the `musl` preset: Zig's clang 16 + musl 1.2.3 + libc++ 16,
# target x86_64-linux-musl, every executable a static PIE.
# Libraries come from tools/musl/build-deps.sh's prefix; nothing is taken from
# the host's /usr/include or /usr/lib (zig's cross clang never searches them).
# protoc and other build tools are the host's.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

# build-deps.sh owns the cache layout: ask it (cheap, no build) for
# "<deps prefix>;<dir of zigcc/zigcxx>".
execute_process(
    COMMAND "${CMAKE_CURRENT_LIST_DIR}/../tools/musl/build-deps.sh" --print-paths
    OUTPUT_VARIABLE _keel_musl_paths
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _keel_musl_rc)
list(LENGTH _keel_musl_paths _keel_musl_n)
if(NOT _keel_musl_rc EQUAL 0 OR NOT _keel_musl_n EQUAL 2)
    message(FATAL_ERROR "musl: tools/musl/build-deps.sh --print-paths failed; run tools/musl/setup.sh")
endif()
list(GET _keel_musl_paths 0 KEEL_MUSL_PREFIX)
list(GET _keel_musl_paths 1 _keel_zig_bin)
if(NOT EXISTS "${KEEL_MUSL_PREFIX}/.complete" OR NOT EXISTS "${_keel_zig_bin}/zigcxx")
    message(FATAL_ERROR "musl: libraries not built for this toolchain and these versions "
                        "(${KEEL_MUSL_PREFIX}); run tools/musl/build-deps.sh first")
endif()

set(CMAKE_C_COMPILER "${_keel_zig_bin}/zigcc")
set(CMAKE_CXX_COMPILER "${_keel_zig_bin}/zigcxx")
# binutils read zig's ELF objects; zig ships no llvm-ar binary CMake would find.
set(CMAKE_AR /usr/bin/ar CACHE FILEPATH "")
set(CMAKE_RANLIB /usr/bin/ranlib CACHE FILEPATH "")

# Position-independent code everywhere, and -fPIE -pie on executables' link
# lines (policy CMP0083; the *_SUPPORTED variables stand for the result of
# check_pie_supported(), known here). A PIE link makes zig produce a static
# PIE: it ignores -static-pie, and -pie wins over -static. Unlike
# CMAKE_CXX_FLAGS_INIT this survives a user's -DCMAKE_CXX_FLAGS=...
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_C_LINK_PIE_SUPPORTED ON)
set(CMAKE_CXX_LINK_PIE_SUPPORTED ON)
# The deps prefix's headers and libraries, searched before zig's own.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${KEEL_MUSL_PREFIX}/lib")
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES "${KEEL_MUSL_PREFIX}/include")
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES "${KEEL_MUSL_PREFIX}/include")

# Compiler checks compile but don't link: zig builds and caches libc++ per
# set of link flags (~90 s each), and the checks' flags differ from keel's.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# find_package/find_library/find_path look only in the prefix; programs
# (protoc, strip, qemu...) only on the host.
set(CMAKE_PREFIX_PATH "${KEEL_MUSL_PREFIX}")
set(CMAKE_FIND_ROOT_PATH "${KEEL_MUSL_PREFIX}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
