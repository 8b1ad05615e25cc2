// keel_layer_unpack LAYER STORE NAME: unpack_layer() of one layer file (tar,
// gzip or zstd) into STORE/NAME, for tests/bench/layer_unpack.sh. Not
// installed: keel has no image verbs yet.
#include "base/fd.h"
#include "base/sys.h"
#include "containers/layer.h"

#include <cstdio>

using namespace keel;
using namespace keel::oci;

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: keel_layer_unpack LAYER STORE NAME\n");
        return 2;
    }
    auto layer = open_file(argv[1], O_RDONLY);
    if (!layer) {
        std::fprintf(stderr, "keel_layer_unpack: %s\n", layer.error().to_string().c_str());
        return 1;
    }
    FdSource source(layer->get());
    auto summary = unpack_layer(source, argv[2], argv[3], {});
    if (!summary) {
        std::fprintf(stderr, "keel_layer_unpack: %s\n", summary.error().to_string().c_str());
        return 1;
    }
    return 0;
}
