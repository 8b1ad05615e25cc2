# Included at the end of the top-level CMakeLists.txt when KEEL_MUSL=ON (the
# `musl` preset, with cmake/musl-toolchain.cmake). After each link of keel the
# build writes ${CMAKE_BINARY_DIR}/keel.stripped, checks that keel is static
# and prints its stripped size.

# The toolchain must not have let the host's glibc headers in.
foreach(dir IN LISTS CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES)
    if(dir MATCHES "^/usr/(local/)?include")
        message(FATAL_ERROR "musl: compiler searches ${dir}; use cmake/musl-toolchain.cmake")
    endif()
endforeach()

# Cached find results (doctest_DIR, ZLIB_LIBRARY...) name the deps prefix;
# a new prefix (Debian update, recipe change) needs a fresh cache.
if(DEFINED CACHE{KEEL_MUSL_PREFIX_USED} AND NOT KEEL_MUSL_PREFIX_USED STREQUAL KEEL_MUSL_PREFIX)
    message(FATAL_ERROR "musl: the libraries moved from ${KEEL_MUSL_PREFIX_USED} to "
                        "${KEEL_MUSL_PREFIX}; reconfigure with `cmake --preset musl --fresh`")
endif()
set(KEEL_MUSL_PREFIX_USED "${KEEL_MUSL_PREFIX}" CACHE INTERNAL "deps prefix this cache was made with")

if(NOT TARGET keel)
    message(WARNING "musl: no `keel` target, nothing to strip or check")
    return()
endif()

# A file-level rule (not POST_BUILD: CMake 3.25 allows that only in the
# directory that defines keel) reruns whenever keel is relinked.
find_program(KEEL_STRIP strip REQUIRED) # binutils, as for CMAKE_AR
add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/keel.stripped
    COMMAND ${KEEL_STRIP} -o ${CMAKE_BINARY_DIR}/keel.stripped $<TARGET_FILE:keel>
    COMMAND ${CMAKE_SOURCE_DIR}/tests/musl/check-static.sh $<TARGET_FILE:keel>
    DEPENDS keel ${CMAKE_SOURCE_DIR}/tests/musl/check-static.sh
    COMMENT "musl: strip keel, check it is static"
    VERBATIM)
add_custom_target(keel_stripped ALL DEPENDS ${CMAKE_BINARY_DIR}/keel.stripped)
