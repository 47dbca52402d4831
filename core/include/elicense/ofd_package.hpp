// An OFD package (GB/T 33190-2016) as an ordered list of named parts, and its
// ZIP form. Part names are paths inside the ZIP without a leading slash
// ("OFD.xml", "Doc_0/Pages/Page_0/Content.xml").
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/error.hpp"
#include "elicense/limits.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace elicense::core {

using Bytes = std::vector<std::uint8_t>;

struct OfdPart {
	std::string name;
	Bytes data;
};

// The parts in the order they are written to the ZIP.
class OfdParts {
public:
	// Adds a part or replaces the data of an existing part of that name.
	void Put(std::string name, Bytes data);
	// nullptr if there is no such part.
	const Bytes *Find(std::string_view name) const noexcept;
	// Throws Error (22023) naming the part if it is missing.
	const Bytes &Get(std::string_view name) const;
	const std::vector<OfdPart> &All() const noexcept {
		return parts_;
	}

private:
	std::vector<OfdPart> parts_;
};

// Writes the parts as a ZIP archive. By default every part is stored
// uncompressed: libzip sets up a fresh zlib state (about 0.5 MB) per deflated
// entry, and glibc maps and unmaps that memory every time, which costs about
// 0.3 ms per part and alone would break the 2 ms budget per licence; an OFD
// licence is ~20 KB stored. With `deflate_xml` XML parts are deflated (images
// and SignedValue.dat are always stored).
// Throws Error (54000) if the package would exceed what ReadOfdZip accepts.
Bytes WriteOfdZip(const OfdParts &parts, bool deflate_xml = false);

// An entry whose name is no canonical part name (".", "..", "//", a leading
// "/", a backslash): it may normalise to another part, so a verifier reports
// a part outside the signed references (VerifyOfd: unreferenced_part).
class OfdEntryNameError : public Error {
public:
	OfdEntryNameError(std::string entry, const std::string &message, std::string hint)
	    : Error(sqlstate::kInvalidTextRepresentation, message, {}, std::move(hint)), entry_(std::move(entry)) {
	}
	// The entry name as a message may quote it (control characters as ?).
	const std::string &entry() const noexcept {
		return entry_;
	}

private:
	std::string entry_;
};

// Reads every file of a ZIP archive; throws Error (22P02) if `zip` is not a
// readable ZIP archive (OfdEntryNameError for an entry name that is not a
// canonical part name), or (54000) if it exceeds the OFD limits of
// limits.hpp; checks for cancellation between parts and while reading one.
OfdParts ReadOfdZip(const Bytes &zip);

Bytes ToBytes(std::string_view text);

}  // namespace elicense::core
