// Check-character systems (see check_characters.hpp for where each is used).
#include "elicense/check_characters.hpp"

#include <array>

namespace elicense::core {
namespace {

constexpr char kAlnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
// GB 32100-2015 alphabet: the 31 characters 0-9 A-Z without I, O, S, V, Z.
constexpr char kUsccAlphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

int AlnumValue(char c) noexcept {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return -1;
}

}  // namespace

// ISO/IEC 7064:2003 hybrid system MOD 37,36 as GB/T 17710-2008 (IDT ISO/IEC
// 7064:2003) clause 10 "hybrid system" states it. GB/T 36904-2018 prescribes
// it for the licence identifier's check character: "校验位的计算方法必须符合
// GB/T 17710-2008 ... ISO/IEC 7064 MOD37,36" (summary of GB/T 36904-2018 at
// wenku.csdn.net/doc/4ium7ims6x; GB/T 17710-2008 contents at
// chinesestandard.net/PDF.aspx/GBT17710-2008). Test vectors recomputed
// independently: ../shared/PLATFORM.md.
//
//   P0 = M; S = (P + a) mod M, with 0 read as M; P = 2S mod (M+1);
//   the check value c makes (P + c) mod M == 1.
char Mod37_36Check(std::string_view payload) noexcept {
	constexpr int kM = 36;
	int p = kM;
	for (char ch : payload) {
		int v = AlnumValue(ch);
		if (v < 0)
			return '\0';
		int s = (p + v) % kM;
		if (s == 0)
			s = kM;
		p = (2 * s) % (kM + 1);
	}
	return kAlnum[(kM + 1 - p) % kM];
}

char Mod11_2Check(std::string_view payload) noexcept {
	// Weights 2^(18-i) mod 11 for positions 1..17 (GB 11643-1999 clause 7.2).
	static constexpr std::array<int, 17> kWeights = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static constexpr char kTable[] = "10X98765432";
	if (payload.size() != kWeights.size())
		return '\0';
	int sum = 0;
	for (std::size_t i = 0; i < kWeights.size(); ++i) {
		char ch = payload[i];
		if (ch < '0' || ch > '9')
			return '\0';
		sum += (ch - '0') * kWeights[i];
	}
	return kTable[sum % 11];
}

int UsccCharValue(char c) noexcept {
	for (int i = 0; kUsccAlphabet[i] != '\0'; ++i)
		if (kUsccAlphabet[i] == c)
			return i;
	return -1;
}

char UsccCheck(std::string_view payload) noexcept {
	// GB 32100-2015 clause 4.2: weights 3^(i-1) mod 31.
	static constexpr std::array<int, 17> kWeights = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
	if (payload.size() != kWeights.size())
		return '\0';
	int sum = 0;
	for (std::size_t i = 0; i < kWeights.size(); ++i) {
		int v = UsccCharValue(payload[i]);
		if (v < 0)
			return '\0';
		sum += v * kWeights[i];
	}
	return kUsccAlphabet[(31 - sum % 31) % 31];
}

char OrganisationCodeCheck(std::string_view payload) noexcept {
	static constexpr std::array<int, 8> kWeights = {3, 7, 9, 10, 5, 8, 4, 2};
	if (payload.size() != kWeights.size())
		return '\0';
	int sum = 0;
	for (std::size_t i = 0; i < kWeights.size(); ++i) {
		int v = AlnumValue(payload[i]);
		if (v < 0)
			return '\0';
		sum += v * kWeights[i];
	}
	int c = 11 - sum % 11;
	return c == 10 ? 'X' : c == 11 ? '0' : static_cast<char>('0' + c);
}

}  // namespace elicense::core
