// Fuzz target for base/json.h: parse_json() and the cursors on arbitrary
// bytes.
//
// Besides "does not crash", it checks what callers rely on: a parsed value
// written back by JsonWriter parses to an equal value (so strings decode to
// valid UTF-8 and the writer escapes all that needs it), writing is stable,
// parse errors say where, cursor errors name the path, and integers read
// back as the literal they came from.
#include "base/json.h"
#include "base/strings.h"
#include "tests/fuzz/fuzz_check.h"

#include <cstdint>
#include <string>
#include <string_view>

using namespace keel;

namespace {

// Reads every value below `cursor` in every way, checking what comes back.
void read_all(const JsonCursor& cursor, int budget_depth) {
    const JsonValue* value = cursor.get();
    FUZZ_CHECK(value != nullptr);
    if (budget_depth == 0)
        return;
    switch (value->kind()) {
    case JsonValue::Kind::Number: {
        if (auto n = cursor.integer<int64_t>()) {
            std::string text = std::to_string(*n);
            FUZZ_CHECK(text == value->number_text() || (value->number_text() == "-0" && *n == 0));
        }
        if (auto n = cursor.integer<uint64_t>()) {
            std::string text = std::to_string(*n);
            FUZZ_CHECK(text == value->number_text() || (value->number_text() == "-0" && *n == 0));
        }
        (void)cursor.integer<uint8_t>(1, 200);
        (void)cursor.number();
        break;
    }
    case JsonValue::Kind::String:
        FUZZ_CHECK(cursor.string() && *cursor.string() == value->string());
        break;
    case JsonValue::Kind::Array: {
        auto elements = cursor.array();
        FUZZ_CHECK(elements && elements->size() == value->array().size());
        for (const JsonCursor& element : *elements)
            read_all(element, budget_depth - 1);
        break;
    }
    case JsonValue::Kind::Object: {
        auto object = cursor.object();
        FUZZ_CHECK(object);
        for (const auto& [key, member] : object->members()) {
            FUZZ_CHECK(object->has(key));
            FUZZ_CHECK((*object)[key].get() == member.get());
            read_all(member, budget_depth - 1);
        }
        (void)cursor.map<std::string>();
        (void)cursor.map<int32_t>();
        break;
    }
    case JsonValue::Kind::Null:
    case JsonValue::Kind::Bool:
        break;
    }
    // A read of the wrong kind fails, naming the path.
    if (value->kind() != JsonValue::Kind::String) {
        auto wrong = cursor.string();
        FUZZ_CHECK(!wrong);
        FUZZ_CHECK(cursor.path().empty() ||
                   starts_with(wrong.error().to_string(), cursor.path() + ": "));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    Result<JsonValue> parsed = parse_json(input);
    if (!parsed) {
        FUZZ_CHECK(starts_with(parsed.error().to_string(), "line "));
        return 0;
    }

    JsonWriter writer;
    writer.value(*parsed);
    Result<JsonValue> again = parse_json(writer.text());
    FUZZ_CHECK(again);
    FUZZ_CHECK(*again == *parsed);
    JsonWriter rewriter;
    rewriter.value(*again);
    FUZZ_CHECK(rewriter.text() == writer.text());

    read_all(JsonCursor(*parsed, "doc"), 64);
    return 0;
}
