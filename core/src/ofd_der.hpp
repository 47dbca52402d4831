// A minimal DER writer and reader, enough for the SES_Signature structure of
// GB/T 38540 (SEQUENCE, INTEGER, IA5String, UTF8String, OCTET STRING,
// BIT STRING, OBJECT IDENTIFIER, GeneralizedTime). Lengths up to 2^32-1.
#pragma once

#include "elicense/cpp_only.hpp"
#include "elicense/ofd_package.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace elicense::core::der {

enum Tag : std::uint8_t {
	kInteger = 0x02,
	kBitString = 0x03,
	kOctetString = 0x04,
	kOid = 0x06,
	kUtf8String = 0x0C,
	kIa5String = 0x16,
	kGeneralizedTime = 0x18,
	kSequence = 0x30,
};

Bytes Tlv(std::uint8_t tag, const std::uint8_t *content, std::size_t size);
Bytes Integer(long value);
Bytes String(std::uint8_t tag, std::string_view text);
Bytes Octets(const Bytes &data);
Bytes Bits(const Bytes &data);  // no unused bits
Bytes Oid(std::string_view dotted);
Bytes Sequence(std::initializer_list<const Bytes *> items);

// One element as read: `whole` is its full encoding, `content` the value.
struct Element {
	std::uint8_t tag = 0;
	Bytes whole;
	Bytes content;
};

// Reads the element at the start of `data` and its direct children (for
// SEQUENCEs). Throws Error (22P02) on malformed DER.
Element Read(const Bytes &data);
std::vector<Element> Children(const Element &sequence);
// The payload of a BIT STRING (drops the unused-bits octet).
Bytes BitsValue(const Element &bit_string);
std::string OidValue(const Element &oid);

}  // namespace elicense::core::der
