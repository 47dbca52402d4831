// ofd_bench: licences rendered per second, unsigned and sealed (SM2/SM3 and
// RSA/SHA-256), for bench/ofd.sh. Prints one line per case:
//   <label>\t<licences>\t<seconds>
// The fastest of three runs counts, as in bench/lib.sql.
#include "elicense/ofd_writer.hpp"
#include "ofd_sample_fields.hpp"
#include "ofd_test_keys.hpp"

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

using elicense::core::Bytes;

double Run(const elicense::core::OfdTemplate &face, const Bytes &qr, const elicense::core::OfdSeal *seal, int count,
           bool deflate = false) {
	double best = 1e9;
	std::size_t total_bytes = 0;
	for (int round = 0; round < 3; ++round) {
		auto start = std::chrono::steady_clock::now();
		for (int i = 0; i < count; ++i) {
			elicense::core::OfdRenderOptions options;
			options.creation_date = "2026-11-23";
			options.deflate = deflate;
			total_bytes += elicense::core::RenderLicenceOfd(
			                   face,
			                   SampleW050Values("（闽）JZ安许证字[2023]" + std::to_string(100000 + i),
			                                    "福建省某某建设工程有限公司第" + std::to_string(i) + "分公司"),
			                   qr, options, seal)
			                   .size();
		}
		std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
		best = std::min(best, elapsed.count());
	}
	if (total_bytes == 0)
		std::abort();  // keeps the work observable
	return best;
}

}  // namespace

int main(int argc, char **argv) {
	int count = argc > 1 ? std::atoi(argv[1]) : 500;
	elicense::core::OfdTemplate face =
	    elicense::core::LoadOfdTemplateFile(std::string(ELICENSE_SOURCE_DIR) + "/extension/templates/W050.json");
	Bytes qr = elicense::test::TinyPng();
	elicense::core::OfdSeal sm2;
	elicense::test::TestKeyPair sm2_keys = elicense::test::MakeTestKeyPair("SM2", "bench seal");
	sm2.private_key_pem = sm2_keys.private_key_pem;
	sm2.certificate_pem = sm2_keys.certificate_pem;
	sm2.picture_png = qr;
	elicense::core::OfdSeal rsa = sm2;
	elicense::test::TestKeyPair rsa_keys = elicense::test::MakeTestKeyPair("RSA", "bench seal");
	rsa.private_key_pem = rsa_keys.private_key_pem;
	rsa.certificate_pem = rsa_keys.certificate_pem;

	std::cout << "unsigned\t" << count << '\t' << Run(face, qr, nullptr, count) << '\n';
	std::cout << "unsigned, XML deflated\t" << count << '\t' << Run(face, qr, nullptr, count, true) << '\n';
	std::cout << "sealed SM2/SM3\t" << count << '\t' << Run(face, qr, &sm2, count) << '\n';
	std::cout << "sealed RSA-2048/SHA-256\t" << count << '\t' << Run(face, qr, &rsa, count) << '\n';
	return 0;
}
