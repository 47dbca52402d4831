// C++ -> PostgreSQL error boundary (see cpp_guard.hpp).
#include "cpp_guard.hpp"

#include <cstring>
#include <exception>
#include <new>

extern "C" {
#include "access/detoast.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
}

namespace elicense::pg {
namespace {

// Copies at most size-1 bytes of src, never cutting a UTF-8 sequence.
void CopyTruncated(char *dst, std::size_t size, const char *src) noexcept {
	std::size_t n = std::strlen(src);
	if (n >= size) {
		n = size - 1;
		while (n > 0 && (static_cast<unsigned char>(src[n]) & 0xC0) == 0x80)
			--n;
	}
	std::memcpy(dst, src, n);
	dst[n] = '\0';
}

int SqlStateFromText(const char *code) noexcept {
	if (code == nullptr || std::strlen(code) != 5)
		return ERRCODE_INTERNAL_ERROR;
	return MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4]);
}

void Capture(PendingError &out, int sqlerrcode, const char *message, const char *detail, const char *hint) noexcept {
	out.active = true;
	out.sqlerrcode = sqlerrcode;
	CopyTruncated(out.message, sizeof out.message, message);
	CopyTruncated(out.detail, sizeof out.detail, detail);
	CopyTruncated(out.hint, sizeof out.hint, hint);
}

}  // namespace

void CaptureCurrentException(PendingError &out) noexcept {
	try {
		throw;
	} catch (const core::Error &e) {
		Capture(out, SqlStateFromText(e.sqlstate()), e.what(), e.detail().c_str(), e.hint().c_str());
	} catch (const std::bad_alloc &) {
		Capture(out, ERRCODE_OUT_OF_MEMORY, "out of memory in elicense", "", "");
	} catch (const std::exception &e) {
		Capture(out, ERRCODE_INTERNAL_ERROR, "internal error in elicense", e.what(),
		        "This is a bug in elicense; please report it with the statement that caused it.");
	} catch (...) {
		Capture(out, ERRCODE_INTERNAL_ERROR, "internal error in elicense", "unknown C++ exception",
		        "This is a bug in elicense; please report it with the statement that caused it.");
	}
}

void RaisePendingError(const PendingError &err) {
	// The core stopped because an interrupt is pending (core/cancel.hpp):
	// PostgreSQL raises it with its own reason (statement timeout, cancel
	// request, termination). The guard's C++ objects are gone by now.
	if (err.sqlerrcode == ERRCODE_QUERY_CANCELED)
		CHECK_FOR_INTERRUPTS();
	ereport(ERROR,
	        (errcode(err.sqlerrcode), errmsg_internal("%s", err.message),
	         err.detail[0] ? errdetail_internal("%s", err.detail) : 0, err.hint[0] ? errhint("%s", err.hint) : 0));
	pg_unreachable();
}

void RequireArgSize(FunctionCallInfo fcinfo, int n, std::size_t max_bytes) {
	std::size_t size = toast_raw_datum_size(PG_GETARG_DATUM(n)) - VARHDRSZ;
	if (size > max_bytes)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("argument %d of %s has %zu bytes, more than the %zu allowed", n + 1,
		                       get_func_name(fcinfo->flinfo->fn_oid), size, max_bytes),
		                errhint("See \"Limits\" in the elicense README.")));
}

std::string_view ArgText(FunctionCallInfo fcinfo, int n, std::size_t max_bytes) {
	RequireArgSize(fcinfo, n, max_bytes);
	text *t = PG_GETARG_TEXT_PP(n);
	return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

TupleDesc ResultDesc(FunctionCallInfo fcinfo) {
	TupleDesc desc;
	if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
		                errmsg("%s must return a record", get_func_name(fcinfo->flinfo->fn_oid))));
	return BlessTupleDesc(desc);
}

std::string_view ArgBytes(FunctionCallInfo fcinfo, int n, std::size_t max_bytes) {
	RequireArgSize(fcinfo, n, max_bytes);
	bytea *b = PG_GETARG_BYTEA_PP(n);
	return std::string_view(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
}

// bytea has text's varlena layout.
Datum ByteaDatum(const std::vector<std::uint8_t> &bytes) {
	return TextDatum(std::string_view(reinterpret_cast<const char *>(bytes.data()), bytes.size()));
}

Datum TextDatum(std::string_view s) {
	std::size_t size = s.size() + VARHDRSZ;
	if (size > MaxAllocSize)
		throw core::Error(core::sqlstate::kInvalidParameterValue, "result too large");
	auto *t = static_cast<text *>(palloc_extended(size, MCXT_ALLOC_NO_OOM));
	if (t == nullptr)
		throw std::bad_alloc();
	SET_VARSIZE(t, size);
	std::memcpy(VARDATA(t), s.data(), s.size());
	return PointerGetDatum(t);
}

}  // namespace elicense::pg
