// State of the national-platform test double: credentials and issued tokens,
// the faults it has been told to inject, and what took effect. Thread-safe:
// the HTTP server calls it from many threads.
//
// Effects are kept twice: per data item (its eCertID; a collect, which has
// no eCertID, by zzeCertID + ID), which makes a resent item idempotent, and
// counted per natural key (what the item is about, e.g. type + step +
// certNum + operateType), so the same change sent under a new eCertID shows
// as a duplicate. The JSON shape is documented in platform_double.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace elicense::testdouble {

using Clock = std::chrono::steady_clock;

// What to do with one business request, decided before it is processed.
enum class Fault {
	kNone,
	k5xx,
	k429,
	kTimeoutAfterProcessing,
	kDropAfterProcessing,
	kCutAfterProcessing,
	kOddAfterProcessing,
	kBusinessError
};

struct FaultConfig {
	int latency_ms = 0;
	double rate_5xx = 0, rate_429 = 0, rate_timeout = 0, rate_drop = 0, rate_cut = 0, rate_business_error = 0;
	double rate_odd = 0;               // answers of PLATFORM.md's "Answer oddities", after acting
	std::string odd_answer = "empty";  // which one: see OddAnswer in platform_double.cpp
	long long odd_bytes = 8 << 20;     // size of the "huge" answer
	int timeout_ms = 3000;             // how long a "timeout" answer hangs
	bool drop_reused_only = false;     // drops only hit the 2nd and later request of a connection
	std::string business_error_for;    // items whose JSON contains this always get ReturnCode 0
};

// A client_id/secret pair, for the direct gateway ("direct") or the relay
// ("relay"), allowed for some licence types (empty: all).
struct Credential {
	std::string realm = "direct";
	std::string client_id, client_secret;
	std::set<std::string> types;
};

enum class TokenCheck { kValid, kInvalid, kWrongType };

// The answer to one accepted data item.
struct ItemResult {
	bool ok = false;
	bool repeated = false;      // this eCertID (or collect) was seen before: no new effect
	std::string error;          // ErrorMsg when !ok
	std::string code;           // assign: the assigned code (also on a repeat)
	nlohmann::json assignment;  // assign: the {encryCertid, encryKey, eCertID} first sent
};

class DoubleState {
public:
	DoubleState(std::vector<Credential> credentials, int token_ttl_s, std::string province_prefix);

	// Token endpoint: a new token, or "" if the pair is unknown in that realm.
	std::string IssueToken(const std::string &realm, const std::string &client_id, const std::string &client_secret);
	TokenCheck CheckToken(const std::string &token, const std::string &realm, const std::string &type);
	int token_ttl_s() const {
		return token_ttl_s_;
	}

	void SetFaults(const nlohmann::json &config);
	FaultConfig faults();
	// `item_text` is matched against business_error_for; `reused` says the
	// request is not the first on its connection.
	Fault DrawFault(const std::string &item_text, bool reused);
	void CountFault(Fault fault);

	// A data item that passed the spec check takes effect, or has none if its
	// eCertID was seen (the first answer is repeated). `encrypt` turns a new
	// code and its eCertID into the assignment sent back.
	using Encrypt = std::function<nlohmann::json(const std::string &code, const std::string &ecert_id)>;
	ItemResult Apply(const std::string &type, const std::string &step, const nlohmann::json &item,
	                 const Encrypt &encrypt);
	// Query: what the stored effects hold for an eCertID or zzeCertID.
	struct Found {
		nlohmann::json item;  // fields as the platform reports them
		std::string code;     // assigned code to re-encrypt, or ""
	};
	std::vector<Found> Query(const std::string &type, const std::string &ecert_id, const std::string &zz_ecert_id);

	void RecordRefusal(const std::string &type, const std::string &step, const std::vector<std::string> &errors);
	nlohmann::json Snapshot();
	void CountRequest();

private:
	struct Effect {
		std::string type, step, ecert_id, operate_type, cert_state, zz_ecert_id, associated, cert_num, code, url;
		std::string natural_key, first_item;
		nlohmann::json assignment;
		int received = 0, differing_repeats = 0;
	};
	struct KeyCount {
		int effects = 0, received = 0;
	};

	std::string NewCode();
	nlohmann::json Licences() const;

	std::mutex mu_;
	std::vector<Credential> credentials_;
	int token_ttl_s_;
	std::string province_prefix_;
	struct Token {
		std::string realm;
		std::set<std::string> types;
		Clock::time_point expires;
	};
	std::map<std::string, Token> tokens_;
	std::map<std::string, Effect> effects_;  // by eCertID, or "collect:<zzeCertID>:<ID>"
	std::map<std::string, KeyCount> natural_keys_;
	std::map<std::string, int> checks_;                  // check requests per natural key (no effect)
	std::map<std::string, std::string> code_owner_;      // assigned code -> effects_ key of its assign
	std::map<std::string, std::string> code_collected_;  // assigned code -> zzeCertID it was collected for
	// Query's indexes into effects_: a scan of every effect per query made the
	// double, not the worker, the limit of long delivery benchmarks.
	std::multimap<std::string, std::string> by_guid_;  // GuidKey(eCertID) -> effects_ key
	std::multimap<std::string, std::string> by_zz_;    // zzeCertID (an assign's: once collected) -> effects_ key
	FaultConfig faults_;
	std::mt19937_64 rng_ {20261123};
	long long next_code_ = 1;
	long long tokens_issued_ = 0, requests_ = 0, refused_ = 0;
	std::vector<nlohmann::json> refusals_;  // the last kMaxRefusals refused items
	std::map<std::string, long long> fault_counts_;
};

}  // namespace elicense::testdouble
