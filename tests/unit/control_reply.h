// The reply init gives to a request that succeeds with a text, as the
// tests of the control client and of init's control server send it.
#pragma once

#include "control/control.h"

#include <string>

namespace keel::testing {

/// A successful control Response whose text is `text`.
inline control::Response text_response(const std::string& text) {
    control::Response response;
    response.set_ok(true);
    response.set_error(text);
    return response;
}

} // namespace keel::testing
