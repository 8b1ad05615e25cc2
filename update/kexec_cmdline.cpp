// The kernel command line for kexec (update/kexec.h): the keel.kexec=
// marker read from it, and the next kernel's line made from the running
// one. No I/O: tests/fuzz/kexec_cmdline_fuzz.cpp feeds it any text.
#include "update/kexec.h"

#include "base/strings.h"

#include <algorithm>
#include <vector>

namespace keel::update {

namespace {

// The words of a command line as the kernel splits it: at spaces outside
// double quotes, the quotes kept.
std::vector<std::string_view> command_line_words(std::string_view text) {
    std::vector<std::string_view> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && is_ascii_space(text[i]))
            ++i;
        if (i == text.size())
            break;
        size_t start = i;
        bool quoted = false;
        while (i < text.size() && (quoted || !is_ascii_space(text[i]))) {
            if (text[i] == '"')
                quoted = !quoted;
            ++i;
        }
        words.push_back(text.substr(start, i - start));
    }
    return words;
}

// A word as the kernel reads it: every double quote removed.
std::string without_quotes(std::string_view word) {
    std::string out;
    for (char c : word)
        if (c != '"')
            out += c;
    return out;
}

// The key of a word ("keel.kexec" of `keel.kexec=A`, of `"keel.kexec=A"`).
std::string word_key(std::string_view word) {
    std::string plain = without_quotes(word);
    return plain.substr(0, plain.find('='));
}

} // namespace

Result<std::optional<SlotName>> kexec_slot(const KernelCommandLine& cmdline) {
    std::optional<std::string> value = cmdline.get(kKexecParameter);
    if (!value)
        return std::optional<SlotName>();
    std::optional<SlotName> slot = kSlotNames.parse(*value);
    if (!slot)
        return error(cat(kKexecParameter, "=", *value, ": expected A or B"));
    return slot;
}

std::string kexec_command_line(std::string_view current, std::string_view extra) {
    std::vector<std::string_view> words = command_line_words(current);
    // Words after `--` are init's arguments, not parameters: the new ones
    // go before it, and those after it stay as they are.
    auto end_of_parameters = std::find_if(words.begin(), words.end(), [](std::string_view word) {
        return without_quotes(word) == "--";
    });
    std::vector<std::string_view> kept;
    for (auto word = words.begin(); word != end_of_parameters; ++word)
        if (word_key(*word) != kKexecParameter)
            kept.push_back(*word);
    for (std::string_view word : command_line_words(extra))
        kept.push_back(word);
    kept.insert(kept.end(), end_of_parameters, words.end());
    std::string line;
    for (std::string_view word : kept) {
        if (!line.empty())
            line += ' ';
        line += word;
    }
    return line;
}

} // namespace keel::update
