// SQL functions over licence OFD files: render one from a template and field
// values (both jsonb) and a QR PNG, and verify a file's seal. Sealing is in
// seal_functions.cpp (signers, encrypted seal secrets).
#include "elicense/ofd_signature.hpp"
#include "elicense/ofd_writer.hpp"

#include <string>
#include <string_view>
#include <vector>

#include "cpp_guard.hpp"

extern "C" {
#include "utils/fmgrprotos.h"
}

namespace core = elicense::core;
using elicense::pg::ArgBytes;
using elicense::pg::ArgText;
using elicense::pg::ByteaDatum;
using elicense::pg::GuardedRun;
using elicense::pg::ResultDesc;
using elicense::pg::TextDatum;

namespace {

// jsonb argument as JSON text, converted by PostgreSQL before any C++ work.
const char *ArgJson(FunctionCallInfo fcinfo, int n) {
	elicense::pg::RequireArgSize(fcinfo, n, elicense::pg::kMaxTextArgBytes);
	return DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(n)));
}

core::Bytes ToBytes(std::string_view data) {
	return core::Bytes(data.begin(), data.end());
}

}  // namespace

// render_licence_ofd(template jsonb, fields jsonb, qr_png bytea,
//                    watermark boolean, purpose text, valid_until text) -> bytea
ELICENSE_FUNCTION(elicense_render_licence_ofd) {
	const char *template_json = ArgJson(fcinfo, 0);
	const char *fields_json = ArgJson(fcinfo, 1);
	std::string_view qr_png = ArgBytes(fcinfo, 2);
	bool watermark = PG_GETARG_BOOL(3);
	std::string_view purpose = ArgText(fcinfo, 4);
	std::string_view valid_until = ArgText(fcinfo, 5);
	std::string_view doc_id = ArgText(fcinfo, 6);
	std::string_view creation_date = ArgText(fcinfo, 7);
	Datum result;
	GuardedRun([&] {
		core::OfdRenderOptions options;
		options.watermark = watermark;
		options.purpose = std::string(purpose);
		options.valid_until = std::string(valid_until);
		options.doc_id = std::string(doc_id);
		options.creation_date = std::string(creation_date);
		result = ByteaDatum(core::RenderLicenceOfd(core::ParseOfdTemplate(template_json),
		                                           core::ParseOfdFieldValues(fields_json), ToBytes(qr_png), options));
	});
	PG_RETURN_DATUM(result);
}

namespace {

// "-----BEGIN CERTIFICATE-----..." blocks of a concatenation, each whole.
std::vector<std::string> SplitCertificates(std::string_view bundle) {
	static constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
	std::vector<std::string> pems;
	std::size_t start = 0;
	for (std::size_t end; (end = bundle.find(kEnd, start)) != std::string_view::npos; start = end + kEnd.size())
		pems.emplace_back(bundle.substr(start, end + kEnd.size() - start));
	return pems;
}

}  // namespace

// _verify_ofd(ofd bytea, certificate text, trust_anchors text) ->
//     (ok boolean, status text, part text, message text, signer text, verdict text)
// trust_anchors: the PEM certificates of elicense.trust_anchor, concatenated.
ELICENSE_FUNCTION(elicense_verify_licence_ofd) {
	std::string_view ofd = ArgBytes(fcinfo, 0);
	std::string_view certificate = ArgText(fcinfo, 1);
	std::string_view anchors = ArgText(fcinfo, 2);
	TupleDesc desc = ResultDesc(fcinfo);
	Datum values[6];
	bool nulls[6] = {false, false, false, false, false, false};
	GuardedRun([&] {
		core::OfdVerifyResult r = core::VerifyOfd(ToBytes(ofd), certificate, SplitCertificates(anchors));
		values[0] = BoolGetDatum(r.ok());
		values[1] = TextDatum(core::OfdVerifyStatusName(r.status));
		nulls[2] = r.part.empty();
		values[2] = nulls[2] ? Datum(0) : TextDatum(r.part);
		values[3] = TextDatum(r.message);
		nulls[4] = r.signer.empty();
		values[4] = nulls[4] ? Datum(0) : TextDatum(r.signer);
		values[5] = TextDatum(core::OfdVerdictName(core::OfdVerdictOf(r.status)));
	});
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
