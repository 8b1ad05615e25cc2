// Fuzz target for kernel module files (livepatch/module_elf.cpp): what
// `keel patch load|info|install` and the boot-time loader read before the
// kernel sees a module. Besides "does not crash or read out of bounds": a
// parsed module has a valid name (it becomes a sysfs and file name), its ELF
// part and the kernel signature account for the input exactly, and errors
// say something.
#include "livepatch/livepatch.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string_view>

namespace lp = keel::livepatch;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto image = lp::parse_module_image(input);
    if (!image) {
        FUZZ_CHECK(!image.error().to_string().empty());
        return 0;
    }
    FUZZ_CHECK(lp::is_valid_module_name(image->name));
    FUZZ_CHECK(image->name.find('/') == std::string::npos);
    for (const std::string& dependency : image->depends)
        FUZZ_CHECK(lp::is_valid_module_name(dependency));
    FUZZ_CHECK(image->elf_size <= size);
    if (image->kernel_signature)
        FUZZ_CHECK(image->elf_size + image->kernel_signature->signature_size + 12 + 28 == size);
    else
        FUZZ_CHECK(image->elf_size == size);
    FUZZ_CHECK(image->vermagic.starts_with(lp::vermagic_release(image->vermagic)));
    for (const lp::ModinfoField& field : image->modinfo)
        FUZZ_CHECK(!field.key.empty() && field.key.find('=') == std::string::npos);
    if (image->is_livepatch())
        FUZZ_CHECK(image->modinfo_value("livepatch") == "Y");
    return 0;
}
