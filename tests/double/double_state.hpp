// State of the national-platform test double: issued tokens, what it received
// per licence, the codes it assigned, and the faults it has been told to
// inject. Thread-safe: the HTTP server calls it from many threads.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <string>

namespace elicense::testdouble {

using Clock = std::chrono::steady_clock;

// What to do with one business request, decided before it is processed.
enum class Fault { kNone, k5xx, k429, kTimeoutAfterProcessing, kDropAfterProcessing, kBusinessError };

struct FaultConfig {
	int latency_ms = 0;
	double rate_5xx = 0, rate_429 = 0, rate_timeout = 0, rate_drop = 0, rate_business_error = 0;
	int timeout_ms = 3000;             // how long a "timeout" answer hangs
	std::string business_error_for;    // identifiers containing this always get ReturnCode 0
};

struct LicenceRecord {
	std::map<std::string, int> processed;  // step -> times it took effect
	std::string assigned_code;
	std::string state;                     // last certState received
	std::string preview_url;
};

class DoubleState {
public:
	DoubleState(std::string client_id, std::string client_secret, int token_ttl_s, std::string province_prefix);

	// Token endpoint: a new token, or "" if the credentials are wrong.
	std::string IssueToken(const std::string &client_id, const std::string &client_secret);
	bool TokenValid(const std::string &token);
	void ExpireAllTokens();
	int token_ttl_s() const {
		return token_ttl_s_;
	}

	void SetFaults(const nlohmann::json &config);
	FaultConfig faults();
	Fault DrawFault(const std::string &identifier);
	void CountFault(Fault fault);

	// Records that `step` took effect for `identifier`; for "assign" returns
	// the newly assigned code (a new one every time: a duplicate assignment is
	// exactly what the worker must never cause).
	std::string Process(const std::string &identifier, const std::string &step, const nlohmann::json &item);
	// What the platform holds for a licence (for the query step), or null.
	nlohmann::json Lookup(const std::string &identifier);
	nlohmann::json Snapshot();
	void CountRequest();

private:
	std::mutex mu_;
	std::string client_id_, client_secret_;
	int token_ttl_s_;
	std::string province_prefix_;
	std::map<std::string, Clock::time_point> tokens_;
	std::map<std::string, LicenceRecord> licences_;
	FaultConfig faults_;
	std::mt19937_64 rng_ {20261123};
	long long next_code_ = 1;
	long long tokens_issued_ = 0;
	long long requests_ = 0;
	std::map<std::string, long long> fault_counts_;
};

}  // namespace elicense::testdouble
