# The fuzz build's protobuf-lite: Debian's libprotobuf is built for
# libstdc++, and the fuzz targets use libc++, so the lite runtime of the
# installed version (the one protoc's output needs) is compiled here from
# Debian's source, with the fuzz build's flags. Defines the target
# `protobuf-lite`, which proto/CMakeLists.txt links.
execute_process(
    COMMAND ${CMAKE_SOURCE_DIR}/tools/fuzz/debian-source.sh libprotobuf-dev ${CMAKE_BINARY_DIR}/_deps
    OUTPUT_VARIABLE protobuf_SOURCE_DIR
    OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE protobuf_source_status)
if(NOT protobuf_source_status EQUAL 0)
    message(FATAL_ERROR "fuzz: no protobuf source to build protobuf-lite from (see above)")
endif()

# protobuf's own list of the lite runtime's files; it defines
# libprotobuf-lite from them.
set(protobuf_SHARED_OR_STATIC STATIC)
file(READ ${protobuf_SOURCE_DIR}/.keel-version protobuf_VERSION) # Debian's: 3.21.12-3+deb12u1
string(REGEX REPLACE "-[^-]*$" "" protobuf_VERSION "${protobuf_VERSION}")
string(STRIP "${protobuf_VERSION}" protobuf_VERSION)
include(${protobuf_SOURCE_DIR}/cmake/libprotobuf-lite.cmake)
# Third-party code: its warnings are not ours to fix, and it is not
# written to be compiled as one (the fuzz preset is a unity build).
target_compile_options(libprotobuf-lite PRIVATE -w)
set_target_properties(libprotobuf-lite PROPERTIES UNITY_BUILD OFF)
# Its headers too, in the code that includes them (as /usr/include's are).
set_target_properties(libprotobuf-lite PROPERTIES
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ${protobuf_SOURCE_DIR}/src)
add_library(protobuf-lite ALIAS libprotobuf-lite)
