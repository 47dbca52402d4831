// Every bound on caller-controlled input, in one place. A caller with an
// ordinary login must not be able to make one backend allocate without
// bound or work for minutes: each input is checked against these BEFORE any
// work or allocation that its size drives, and the writing side keeps to
// the same limits as the reading side (a file we write, we can read).
// README "Limits" lists them for DBAs.
#pragma once

#include "elicense/cpp_only.hpp"

#include <cstddef>
#include <cstdint>

namespace elicense::core {

// QR: a version-40 symbol at level L holds 2,953 bytes in 8-bit mode; a
// longer text cannot be encoded, so it is refused before libqrencode runs.
inline constexpr std::size_t kMaxQrTextBytes = 2953;

// OFD packages read from outside (verification, preview). A licence is
// some 20-200 KB; these stop ZIP bombs and absurd counts.
inline constexpr std::uint64_t kMaxOfdPackageBytes = 64u << 20;  // the ZIP itself
inline constexpr std::size_t kMaxOfdParts = 1000;
inline constexpr std::uint64_t kMaxOfdPartBytes = 32u << 20;    // one part, uncompressed
inline constexpr std::uint64_t kMaxOfdTotalBytes = 64u << 20;   // all parts, uncompressed
inline constexpr std::size_t kMaxOfdSignatures = 16;            // signatures in one package
inline constexpr std::size_t kMaxOfdReferences = kMaxOfdParts;  // references of one signature

// Face templates: fields and characters of one field's value.
inline constexpr std::size_t kMaxTemplateFields = 200;
inline constexpr std::size_t kMaxFieldValueBytes = 4096;

// Arguments of one approval trigger (elicense._trigger_plan keeps each list
// it parsed for the backend's life, at most 64 lists).
inline constexpr std::size_t kMaxTriggerArgumentsBytes = 64u << 10;

// Usage audit (extension/src/audit_writer.cpp). One record is a JSON object
// of short values: elicense._record shortens each text value to 256
// characters (the message to 2,000), and the sharing functions refuse longer
// arguments (22001) before any work, so 16 KB is never reached by a real call.
inline constexpr std::size_t kMaxAuditRecordBytes = 16u << 10;
inline constexpr std::size_t kAuditQueueEntries = 64;     // records waiting, all databases
inline constexpr std::size_t kAuditWriterDatabases = 16;  // databases with a writer at once
inline constexpr long kAuditWaitMs = 5000;                // a call waits this long for its row, then is refused
inline constexpr long kAuditWriterIdleMs = 3000;          // a writer idle this long exits (DROP DATABASE waits 5 s)

// Key and certificate columns (seal, platform_key, province_secret): a
// PEM of an RSA-4096 key with its chain is some 10 KB.
inline constexpr std::size_t kMaxPemBytes = 64u << 10;

// Digests run over at most this many bytes between two cancellation checks.
inline constexpr std::size_t kCancelCheckBytes = 1u << 20;

}  // namespace elicense::core
