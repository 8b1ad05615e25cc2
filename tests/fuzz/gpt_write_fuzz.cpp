// Fuzz target for rootfs/gpt_write.cpp: a disk image (the input) whose
// partition 1 gets a new attribute word. Either the change is refused and
// the image is byte for byte as it was, or both GPT copies are intact
// afterwards and partition 1 carries the new word in each.
#include "base/storage.h"
#include "base/sys.h"
#include "rootfs/rootfs.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace keel;

namespace {

constexpr uint64_t kWord = (uint64_t(7) << 48) | (uint64_t(3) << 52) | 1;

std::string scratch_file() {
    std::string path = fuzz_scratch_pattern("gpt");
    int fd = ::mkstemp(path.data());
    FUZZ_CHECK(fd >= 0);
    ::close(fd);
    return path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = scratch_file();
    std::string image(reinterpret_cast<const char*>(data), size);
    FUZZ_CHECK(write_new_file(path, image));
    const GptAttributeChange change[] = {{1, kWord}};
    auto copies = set_gpt_attributes(system_storage(), path, change);
    auto after = read_file(path);
    FUZZ_CHECK(after);
    if (!copies) {
        FUZZ_CHECK(*after == image);
        return 0;
    }
    FUZZ_CHECK(after->size() == image.size());
    auto intact = check_gpt_copies(system_storage(), path);
    FUZZ_CHECK(intact && *intact == GptCopies::Both);
    auto table = read_gpt(path);
    FUZZ_CHECK(table);
    bool found = false;
    for (const GptPartition& partition : table->partitions)
        if (partition.number == 1)
            found = partition.attributes == kWord;
    FUZZ_CHECK(found);
    return 0;
}
