// 96-bit AES-GCM nonces for keys that seal many messages (a tenant's KEK seals
// every object's layout), with no call into OpenSSL's DRBG per message.
#pragma once

#include <cstdint>

#include "common/bytes.h"

namespace kiseki::crypto {

// Writes a nonce that no other call in any thread or process has written
// (with the odds of colliding random 96-bit draws, or better). Each thread
// draws a random 96-bit starting value once and counts up from it in the low
// 64 bits: two threads collide only if their counted runs overlap, which for
// T threads and q nonces in all has odds of about 2·T·q / 2^96, below the
// q² / 2^97 of drawing every nonce at random. A fork gives the child fresh
// starting values, so parent and child never count through the same run.
void next_gcm_nonce(MutableByteSpan out);  // out.size() == kGcmNonceSize

}  // namespace kiseki::crypto
