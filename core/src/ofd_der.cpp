// Minimal DER writer and reader (see ofd_der.hpp).
#include "ofd_der.hpp"

#include "elicense/error.hpp"

namespace elicense::core::der {
namespace {

[[noreturn]] void Malformed(const char *what) {
	throw Error(sqlstate::kInvalidTextRepresentation, std::string("malformed DER: ") + what);
}

// Reads one element at data[pos...end); advances pos past it.
Element ReadAt(const std::uint8_t *data, std::size_t end, std::size_t &pos) {
	std::size_t start = pos;
	if (pos + 2 > end)
		Malformed("truncated header");
	Element element;
	element.tag = data[pos++];
	if ((element.tag & 0x1F) == 0x1F)
		Malformed("multi-byte tag");
	std::size_t length = data[pos++];
	if (length & 0x80) {
		std::size_t count = length & 0x7F;
		if (count == 0 || count > 4 || pos + count > end)
			Malformed("bad length");
		if (data[pos] == 0)
			Malformed("non-minimal length");
		length = 0;
		for (std::size_t i = 0; i < count; ++i)
			length = (length << 8) | data[pos++];
		if (length < 0x80)
			Malformed("non-minimal length");
	}
	if (length > end - pos)
		Malformed("length beyond the data");
	element.content.assign(data + pos, data + pos + length);
	pos += length;
	element.whole.assign(data + start, data + pos);
	return element;
}

}  // namespace

Bytes Tlv(std::uint8_t tag, const std::uint8_t *content, std::size_t size) {
	Bytes out;
	out.reserve(size + 6);
	out.push_back(tag);
	if (size < 0x80) {
		out.push_back(static_cast<std::uint8_t>(size));
	} else {
		std::uint8_t length[4];
		int count = 0;
		for (std::size_t s = size; s; s >>= 8)
			length[count++] = static_cast<std::uint8_t>(s & 0xFF);
		out.push_back(static_cast<std::uint8_t>(0x80 | count));
		while (count)
			out.push_back(length[--count]);
	}
	out.insert(out.end(), content, content + size);
	return out;
}

Bytes Integer(long value) {
	Bytes content;
	// Big-endian two's complement, shortest form.
	for (int shift = 56; shift >= 0; shift -= 8)
		content.push_back(static_cast<std::uint8_t>((static_cast<unsigned long>(value) >> shift) & 0xFF));
	std::size_t skip = 0;
	while (skip + 1 < content.size() && ((content[skip] == 0x00 && !(content[skip + 1] & 0x80)) ||
	                                     (content[skip] == 0xFF && (content[skip + 1] & 0x80))))
		++skip;
	return Tlv(kInteger, content.data() + skip, content.size() - skip);
}

Bytes String(std::uint8_t tag, std::string_view text) {
	return Tlv(tag, reinterpret_cast<const std::uint8_t *>(text.data()), text.size());
}

Bytes Octets(const Bytes &data) {
	return Tlv(kOctetString, data.data(), data.size());
}

Bytes Bits(const Bytes &data) {
	Bytes content;
	content.reserve(data.size() + 1);
	content.push_back(0);
	content.insert(content.end(), data.begin(), data.end());
	return Tlv(kBitString, content.data(), content.size());
}

Bytes Oid(std::string_view dotted) {
	std::vector<unsigned long> arcs;
	unsigned long arc = 0;
	bool digit = false;
	for (char c : dotted) {
		if (c == '.') {
			if (!digit)
				Malformed("empty OID arc");
			arcs.push_back(arc);
			arc = 0;
			digit = false;
		} else if (c >= '0' && c <= '9') {
			arc = arc * 10 + static_cast<unsigned long>(c - '0');
			digit = true;
		} else {
			Malformed("bad OID");
		}
	}
	if (!digit || arcs.empty())
		Malformed("bad OID");
	arcs.push_back(arc);
	Bytes content;
	auto base128 = [&content](unsigned long value) {
		std::uint8_t groups[10];
		int count = 0;
		do {
			groups[count++] = static_cast<std::uint8_t>(value & 0x7F);
			value >>= 7;
		} while (value);
		while (count > 1)
			content.push_back(static_cast<std::uint8_t>(groups[--count] | 0x80));
		content.push_back(groups[0]);
	};
	base128(arcs[0] * 40 + arcs[1]);
	for (std::size_t i = 2; i < arcs.size(); ++i)
		base128(arcs[i]);
	return Tlv(kOid, content.data(), content.size());
}

Bytes Sequence(std::initializer_list<const Bytes *> items) {
	Bytes content;
	for (const Bytes *item : items)
		content.insert(content.end(), item->begin(), item->end());
	return Tlv(kSequence, content.data(), content.size());
}

Element Read(const Bytes &data) {
	std::size_t pos = 0;
	Element element = ReadAt(data.data(), data.size(), pos);
	if (pos != data.size())
		Malformed("trailing bytes");
	return element;
}

std::vector<Element> Children(const Element &sequence) {
	if (sequence.tag != kSequence)
		Malformed("expected a SEQUENCE");
	std::vector<Element> children;
	std::size_t pos = 0;
	while (pos < sequence.content.size())
		children.push_back(ReadAt(sequence.content.data(), sequence.content.size(), pos));
	return children;
}

Bytes BitsValue(const Element &bit_string) {
	if (bit_string.tag != kBitString || bit_string.content.empty() || bit_string.content[0] != 0)
		Malformed("expected a BIT STRING");
	return Bytes(bit_string.content.begin() + 1, bit_string.content.end());
}

std::string OidValue(const Element &oid) {
	if (oid.tag != kOid || oid.content.empty())
		Malformed("expected an OBJECT IDENTIFIER");
	std::string out;
	unsigned long value = 0;
	bool first = true;
	for (std::uint8_t byte : oid.content) {
		value = (value << 7) | (byte & 0x7F);
		if (byte & 0x80)
			continue;
		if (first) {
			unsigned long top = value < 80 ? value / 40 : 2;
			out = std::to_string(top) + "." + std::to_string(value - top * 40);
			first = false;
		} else {
			out += "." + std::to_string(value);
		}
		value = 0;
	}
	return out;
}

}  // namespace elicense::core::der
