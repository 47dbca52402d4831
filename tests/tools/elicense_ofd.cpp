// elicense-ofd: renders, seals and verifies licence OFD files from the
// command line with the core library, for the integration test, demos and
// DBAs trying a template change.
//
//   elicense-ofd render --template T.json --fields F.json --qr qr.png -o out.ofd
//                [--key key.pem --cert cert.pem --seal seal.png]
//                [--no-watermark] [--purpose TEXT --valid-until DATE]
//                [--doc-id HEX] [--date YYYY-MM-DD] [--time YYYYMMDDhhmmssZ]
//   elicense-ofd verify [--cert cert.pem] [--anchors a.pem,b.pem] file.ofd
//   elicense-ofd forge KIND --forger-key k.pem --forger-cert c.pem
//                [--key key.pem --cert cert.pem] [--time YYYYMMDDhhmmssZ]
//                [--seal other.png] sealed.ofd -o forged.ofd
//
// `verify` prints "<status> <verdict> <part> <message>" and exits 0 only
// when the file verifies and its chains reach one of the trust anchors.
// `forge` (tests only: tests/support/ofd_forgery.hpp) writes one of the
// attacks of issue 19's tamper suite: resign, own-seal, seal-picture,
// move-time (re-signed with --key/--cert when given), signs-dotdot. Usage and
// input errors exit 2.
#include "elicense/error.hpp"
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_writer.hpp"
#include "ofd_forgery.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using elicense::core::Bytes;

struct Usage : std::runtime_error {
	using std::runtime_error::runtime_error;
};

Bytes ReadFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw Usage("cannot read " + path);
	return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string ReadText(const std::string &path) {
	Bytes data = ReadFile(path);
	return std::string(data.begin(), data.end());
}

void WriteFile(const std::string &path, const Bytes &data) {
	std::ofstream out(path, std::ios::binary);
	out.write(reinterpret_cast<const char *>(data.data()), static_cast<std::streamsize>(data.size()));
	if (!out)
		throw Usage("cannot write " + path);
}

// --name value options and bare flags; positional arguments in order.
struct Args {
	std::map<std::string, std::string> options;
	std::vector<std::string> positional;

	bool Has(const std::string &name) const {
		return options.count(name) > 0;
	}
	std::string Get(const std::string &name) const {
		auto it = options.find(name);
		if (it == options.end())
			throw Usage("missing --" + name);
		return it->second;
	}
	std::string GetOr(const std::string &name, std::string fallback) const {
		auto it = options.find(name);
		return it == options.end() ? fallback : it->second;
	}
};

Args ParseArgs(int argc, char **argv, int first) {
	static const char *const kFlags[] = {"no-watermark"};
	Args args;
	for (int i = first; i < argc; ++i) {
		std::string arg = argv[i];
		if (arg == "-o")
			arg = "--output";
		if (arg.rfind("--", 0) != 0) {
			args.positional.push_back(arg);
			continue;
		}
		std::string name = arg.substr(2);
		bool flag = false;
		for (const char *f : kFlags)
			flag = flag || name == f;
		if (flag) {
			args.options[name] = "";
		} else {
			if (i + 1 >= argc)
				throw Usage("--" + name + " needs a value");
			args.options[name] = argv[++i];
		}
	}
	return args;
}

int Render(const Args &args) {
	elicense::core::OfdTemplate face = elicense::core::LoadOfdTemplateFile(args.Get("template"));
	elicense::core::OfdRenderOptions options;
	options.watermark = !args.Has("no-watermark");
	options.purpose = args.GetOr("purpose", "");
	options.valid_until = args.GetOr("valid-until", "");
	options.doc_id = args.GetOr("doc-id", "");
	options.creation_date = args.GetOr("date", "");
	elicense::core::OfdSeal seal;
	bool sealed = args.Has("key");
	if (sealed) {
		seal.private_key_pem = ReadText(args.Get("key"));
		seal.certificate_pem = ReadText(args.Get("cert"));
		seal.picture_png = ReadFile(args.Get("seal"));
		seal.signature_time = args.GetOr("time", "");
	}
	Bytes ofd =
	    elicense::core::RenderLicenceOfd(face, elicense::core::ParseOfdFieldValues(ReadText(args.Get("fields"))),
	                                     ReadFile(args.Get("qr")), options, sealed ? &seal : nullptr);
	WriteFile(args.Get("output"), ofd);
	return 0;
}

// "a.pem,b.pem" as the certificates' PEM texts.
std::vector<std::string> ReadAnchors(const std::string &list) {
	std::vector<std::string> pems;
	std::size_t start = 0;
	while (start <= list.size() && !list.empty()) {
		std::size_t comma = list.find(',', start);
		pems.push_back(ReadText(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
		if (comma == std::string::npos)
			break;
		start = comma + 1;
	}
	return pems;
}

int Verify(const Args &args) {
	if (args.positional.size() != 1)
		throw Usage("verify takes one file");
	std::string cert = args.Has("cert") ? ReadText(args.Get("cert")) : std::string();
	elicense::core::OfdVerifyResult result =
	    elicense::core::VerifyOfd(ReadFile(args.positional[0]), cert, ReadAnchors(args.GetOr("anchors", "")));
	std::cout << elicense::core::OfdVerifyStatusName(result.status) << ' '
	          << elicense::core::OfdVerdictName(elicense::core::OfdVerdictOf(result.status)) << ' '
	          << (result.part.empty() ? "-" : result.part) << ' ' << result.message << '\n';
	if (result.ok())
		std::cout << "signer: " << result.signer << "\nalgorithm: " << result.algorithm << '\n';
	return result.ok() ? 0 : 1;
}

int Forge(const Args &args) {
	if (args.positional.size() != 2)
		throw Usage("forge takes a kind and a sealed file");
	const std::string &kind = args.positional[0];
	Bytes sealed = ReadFile(args.positional[1]);
	elicense::test::TestKeyPair forger {ReadText(args.Get("forger-key")), ReadText(args.Get("forger-cert"))};
	Bytes forged;
	if (kind == "resign") {
		forged = elicense::test::ForgeResignature(sealed, forger);
	} else if (kind == "own-seal") {
		forged = elicense::test::ForgeWithOwnSeal(sealed, forger);
	} else if (kind == "seal-picture") {
		forged = elicense::test::SwapSealPicture(sealed, ReadFile(args.Get("seal")), forger);
	} else if (kind == "move-time") {
		elicense::test::TestKeyPair signer {args.GetOr("key", ""), args.GetOr("cert", "")};
		if (args.Has("key")) {
			signer.private_key_pem = ReadText(args.Get("key"));
			signer.certificate_pem = ReadText(args.Get("cert"));
		}
		forged = elicense::test::MoveSigningTime(sealed, args.Get("time"), args.Has("key") ? &signer : nullptr);
	} else if (kind == "signs-dotdot") {
		forged = elicense::test::AddPartUnderSigns(sealed);
	} else {
		throw Usage("forge: unknown kind " + kind);
	}
	WriteFile(args.Get("output"), forged);
	return 0;
}

}  // namespace

int main(int argc, char **argv) {
	try {
		std::string command = argc > 1 ? argv[1] : "";
		Args args = ParseArgs(argc, argv, 2);
		if (command == "render")
			return Render(args);
		if (command == "verify")
			return Verify(args);
		if (command == "forge")
			return Forge(args);
		throw Usage("usage: elicense-ofd render|verify|forge ... (see the header of tests/tools/elicense_ofd.cpp)");
	} catch (const Usage &e) {
		std::cerr << "elicense-ofd: " << e.what() << '\n';
		return 2;
	} catch (const elicense::core::Error &e) {
		std::cerr << "elicense-ofd: " << e.what() << (e.detail().empty() ? "" : " (" + e.detail() + ")") << '\n';
		return 2;
	} catch (const std::exception &e) {
		std::cerr << "elicense-ofd: " << e.what() << '\n';
		return 2;
	}
}
