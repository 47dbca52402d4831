// OFD package parts and their ZIP form, through libzip.
#include "elicense/ofd_package.hpp"

#include "elicense/cancel.hpp"

#include "elicense/error.hpp"

#include <zip.h>

#include <algorithm>
#include <memory>

namespace elicense::core {
namespace {

struct ZipDiscard {
	void operator()(zip_t *zip) const noexcept {
		zip_discard(zip);
	}
};
struct ZipSourceFree {
	void operator()(zip_source_t *source) const noexcept {
		zip_source_free(source);
	}
};
struct ZipFileClose {
	void operator()(zip_file_t *file) const noexcept {
		zip_fclose(file);
	}
};
using ZipPtr = std::unique_ptr<zip_t, ZipDiscard>;
using ZipSourcePtr = std::unique_ptr<zip_source_t, ZipSourceFree>;
using ZipFilePtr = std::unique_ptr<zip_file_t, ZipFileClose>;

[[noreturn]] void ThrowZip(const char *what, zip_error_t *error) {
	std::string detail = error ? zip_error_strerror(error) : "";
	throw Error(sqlstate::kInternalError, std::string("OFD package: ") + what, detail);
}

bool IsCompressedImage(std::string_view name) {
	auto ends_with = [&](std::string_view suffix) {
		return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
	};
	return ends_with(".png") || ends_with(".jpg") || ends_with(".dat");
}

// An entry name as an error message may quote it: control characters as ?,
// at most 120 bytes.
std::string DescribeForMessage(std::string_view name) {
	std::string out;
	for (unsigned char c : name.substr(0, 120))
		out.push_back(c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c));
	return name.size() > 120 ? out + "..." : out;
}

// Why a ZIP entry name is not a canonical OFD part name, or nullptr. A
// verifier must see the parts a viewer sees: "Doc_0/Signs/../Pages/Page_0/
// Content.xml" is exempt from the signature's coverage (it is under Signs/)
// while a reader that normalises the path shows it as the page, and "./",
// "//", a leading "/" or a backslash name one part by two spellings.
const char *NonCanonicalReason(std::string_view name) {
	if (name.empty())
		return "is empty";
	if (name.front() == '/')
		return "starts with /";
	if (name.find('\\') != std::string_view::npos)
		return "contains a backslash";
	for (unsigned char c : name)
		if (c < 0x20 || c == 0x7F)
			return "contains a control character";
	std::size_t start = 0;
	for (;;) {
		std::size_t end = name.find('/', start);
		std::string_view segment = name.substr(start, end == std::string_view::npos ? name.npos : end - start);
		if (segment.empty())
			return "contains an empty path segment (//)";
		if (segment == "." || segment == "..")
			return "contains a . or .. path segment";
		if (end == std::string_view::npos)
			return nullptr;
		start = end + 1;
	}
}

}  // namespace

void OfdParts::Put(std::string name, Bytes data) {
	for (auto &part : parts_) {
		if (part.name == name) {
			part.data = std::move(data);
			return;
		}
	}
	parts_.push_back({std::move(name), std::move(data)});
}

const Bytes *OfdParts::Find(std::string_view name) const noexcept {
	for (const auto &part : parts_)
		if (part.name == name)
			return &part.data;
	return nullptr;
}

const Bytes &OfdParts::Get(std::string_view name) const {
	if (const Bytes *data = Find(name))
		return *data;
	throw Error(sqlstate::kInvalidParameterValue, "OFD package has no part " + std::string(name));
}

Bytes ToBytes(std::string_view text) {
	return Bytes(text.begin(), text.end());
}

// The archive is built in a growable in-memory source: zip_close() writes it
// there, then the source is read back into a vector.
constexpr time_t kFixedEntryTime = 946684800;  // 2000-01-01T00:00:00Z

Bytes WriteOfdZip(const OfdParts &parts, bool deflate_xml) {
	zip_error_t error;
	zip_error_init(&error);
	ZipSourcePtr buffer(zip_source_buffer_create(nullptr, 0, 0, &error));
	if (!buffer)
		ThrowZip("cannot create a memory buffer", &error);
	ZipPtr zip(zip_open_from_source(buffer.get(), ZIP_TRUNCATE, &error));
	if (!zip)
		ThrowZip("cannot open a ZIP in memory", &error);
	zip_source_keep(buffer.get());  // zip_close/zip_discard would free it otherwise

	// The same limits as ReadOfdZip: a package we write, we can read back.
	if (parts.All().size() > kMaxOfdParts)
		throw Error(sqlstate::kProgramLimitExceeded,
		            "the OFD package would have more than " + std::to_string(kMaxOfdParts) + " parts");
	std::uint64_t total = 0;
	for (const auto &part : parts.All()) {
		total += part.data.size();
		if (part.data.size() > kMaxOfdPartBytes || total > kMaxOfdTotalBytes)
			throw Error(sqlstate::kProgramLimitExceeded, "the OFD package part " + part.name + " would be too large",
			            {},
			            "A part may hold " + std::to_string(kMaxOfdPartBytes >> 20) + " MiB, a package " +
			                std::to_string(kMaxOfdTotalBytes >> 20) + " MiB.");
	}
	for (const auto &part : parts.All()) {
		ThrowIfCancelled();
		// The data outlives zip_close(): libzip reads it only then.
		zip_source_t *source = zip_source_buffer(zip.get(), part.data.data(), part.data.size(), 0);
		if (!source)
			ThrowZip("cannot add a part", zip_get_error(zip.get()));
		zip_int64_t index = zip_file_add(zip.get(), part.name.c_str(), source, ZIP_FL_ENC_UTF_8);
		if (index < 0) {
			zip_source_free(source);
			ThrowZip("cannot add a part", zip_get_error(zip.get()));
		}
		// A fixed entry time (2000-01-01) instead of "now", so the same parts
		// always give the same bytes and the same SHA-256.
		if (zip_file_set_mtime(zip.get(), static_cast<zip_uint64_t>(index), kFixedEntryTime, 0) < 0)
			ThrowZip("cannot set the entry time", zip_get_error(zip.get()));
		zip_int32_t method = deflate_xml && !IsCompressedImage(part.name) ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
		if (zip_set_file_compression(zip.get(), static_cast<zip_uint64_t>(index), method, 0) < 0)
			ThrowZip("cannot set compression", zip_get_error(zip.get()));
	}
	if (zip_close(zip.get()) < 0)
		ThrowZip("cannot write the ZIP", zip_get_error(zip.get()));
	static_cast<void>(zip.release());  // zip_close freed it

	if (zip_source_open(buffer.get()) < 0)
		ThrowZip("cannot read the ZIP back", zip_source_error(buffer.get()));
	zip_source_seek(buffer.get(), 0, SEEK_END);
	zip_int64_t size = zip_source_tell(buffer.get());
	zip_source_seek(buffer.get(), 0, SEEK_SET);
	Bytes out(size > 0 ? static_cast<std::size_t>(size) : 0);
	zip_int64_t got = out.empty() ? 0 : zip_source_read(buffer.get(), out.data(), out.size());
	zip_source_close(buffer.get());
	if (got != size)
		ThrowZip("short read of the ZIP", zip_source_error(buffer.get()));
	return out;
}

OfdParts ReadOfdZip(const Bytes &zip_bytes) {
	if (zip_bytes.size() > kMaxOfdPackageBytes)
		throw Error(sqlstate::kProgramLimitExceeded,
		            "the OFD package has more than " + std::to_string(kMaxOfdPackageBytes >> 20) + " MiB");
	zip_error_t error;
	zip_error_init(&error);
	ZipSourcePtr buffer(zip_source_buffer_create(zip_bytes.data(), zip_bytes.size(), 0, &error));
	if (!buffer)
		ThrowZip("cannot create a memory buffer", &error);
	ZipPtr zip(zip_open_from_source(buffer.get(), ZIP_RDONLY | ZIP_CHECKCONS, &error));
	if (!zip)
		throw Error(sqlstate::kInvalidTextRepresentation, "not a readable OFD package (ZIP)",
		            zip_error_strerror(&error));
	zip_source_keep(buffer.get());

	OfdParts parts;
	zip_int64_t count = zip_get_num_entries(zip.get(), 0);
	if (count < 0 || static_cast<std::uint64_t>(count) > kMaxOfdParts)
		throw Error(sqlstate::kProgramLimitExceeded, "OFD package has too many parts");
	std::uint64_t total = 0;
	for (zip_int64_t i = 0; i < count; ++i) {
		ThrowIfCancelled();
		zip_stat_t stat;
		zip_stat_init(&stat);
		if (zip_stat_index(zip.get(), static_cast<zip_uint64_t>(i), 0, &stat) < 0)
			ThrowZip("cannot read an entry", zip_get_error(zip.get()));
		std::string name = stat.name;
		if (!name.empty() && name.back() == '/')
			continue;  // directory entry
		// The whole package is refused: its parts are ambiguous, and VerifyOfd
		// reports the entry as a part outside the signed references.
		if (const char *why = NonCanonicalReason(name))
			throw OfdEntryNameError(
			    DescribeForMessage(name),
			    "OFD package entry \"" + DescribeForMessage(name) + "\" " + why + ": not a part name",
			    "OFD part names are relative paths without ., .. or empty segments (GB/T 33190).");
		if (parts.Find(name) != nullptr)
			throw Error(sqlstate::kInvalidTextRepresentation,
			            "OFD package has two entries named \"" + DescribeForMessage(name) + "\"",
			            "A viewer may show either; OFD part names are unique.");
		total += stat.size;
		if (!(stat.valid & ZIP_STAT_SIZE) || stat.size > kMaxOfdPartBytes || total > kMaxOfdTotalBytes)
			throw Error(sqlstate::kProgramLimitExceeded, "OFD package part " + name + " is too large");
		ZipFilePtr file(zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(i), 0));
		if (!file)
			throw Error(sqlstate::kInvalidTextRepresentation, "OFD package: cannot open part " + name,
			            zip_error_strerror(zip_get_error(zip.get())));
		// Read in slices, so that inflating a large part can be cancelled.
		Bytes data(static_cast<std::size_t>(stat.size));
		for (std::size_t at = 0; at < data.size();) {
			ThrowIfCancelled();
			std::size_t want = std::min(data.size() - at, kCancelCheckBytes);
			zip_int64_t got = zip_fread(file.get(), data.data() + at, want);
			if (got <= 0)
				throw Error(sqlstate::kInvalidTextRepresentation, "OFD package: cannot read part " + name,
				            zip_error_strerror(zip_file_get_error(file.get())));
			at += static_cast<std::size_t>(got);
		}
		parts.Put(std::move(name), std::move(data));
	}
	return parts;
}

}  // namespace elicense::core
