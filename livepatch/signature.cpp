// Detached module signatures (see livepatch.h for the scheme): when a
// signature is demanded, and the module file's .sig beside it. The
// cryptography and the trusted keys are base/signature.h's, shared with
// update payloads.
//
// What the signature protects: the path from the publisher to the host. The
// module is checked from the bytes read through the same descriptor that
// finit_module is then given; someone who can rewrite the file in between is
// root on the host and could load modules directly anyway.
#include "livepatch/livepatch.h"

#include "base/strings.h"
#include "base/sys.h"

namespace keel::livepatch {

Result<SignatureCheck> check_signature(std::string_view module_bytes,
                                       const std::string& signature_path,
                                       const SigningPolicy& policy) {
    SignatureCheck check;
    std::vector<std::string> keys = TRY(trusted_key_files(policy.trusted_keys_directory));
    if (keys.empty() && !policy.required)
        return check; // signing not configured
    check.configured = true;
    if (keys.empty())
        return error(cat("keel.patch_signing=required, but ", quoted(policy.trusted_keys_directory),
                         " holds no trusted keys (*.pem)"));
    if (!path_exists(signature_path))
        return error(cat("no signature: ", quoted(signature_path),
                         " does not exist (signing is "
                         "configured: ",
                         keys.size(), " trusted key(s) in ", quoted(policy.trusted_keys_directory),
                         ")"));
    std::string signature = TRY(read_file(signature_path));
    SignatureKey key = TRY(verify_detached_signature(
        module_bytes, signature, keys, policy.trusted_keys_directory, quoted(signature_path)));
    check.key = std::move(key.path);
    check.key_id = std::move(key.key_id);
    return check;
}

Result<std::string> sign_module(std::string_view module_bytes,
                                const std::string& private_key_path) {
    return sign_detached(module_bytes, private_key_path);
}

Result<std::string> key_id_of(const std::string& key_path) {
    return signing_key_id(key_path);
}

} // namespace keel::livepatch
