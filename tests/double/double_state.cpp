#include "double_state.hpp"

#include <cstdio>

namespace elicense::testdouble {

using nlohmann::json;

DoubleState::DoubleState(std::string client_id, std::string client_secret, int token_ttl_s,
                         std::string province_prefix)
    : client_id_(std::move(client_id)), client_secret_(std::move(client_secret)), token_ttl_s_(token_ttl_s),
      province_prefix_(std::move(province_prefix)) {
}

std::string DoubleState::IssueToken(const std::string &client_id, const std::string &client_secret) {
	std::lock_guard<std::mutex> lock(mu_);
	if (client_id != client_id_ || client_secret != client_secret_)
		return {};
	char token[33];
	std::snprintf(token, sizeof token, "%016llx%016llx", static_cast<unsigned long long>(rng_()),
	              static_cast<unsigned long long>(rng_()));
	tokens_[token] = Clock::now() + std::chrono::seconds(token_ttl_s_);
	++tokens_issued_;
	return token;
}

bool DoubleState::TokenValid(const std::string &token) {
	std::lock_guard<std::mutex> lock(mu_);
	auto it = tokens_.find(token);
	return it != tokens_.end() && Clock::now() < it->second;
}

void DoubleState::ExpireAllTokens() {
	std::lock_guard<std::mutex> lock(mu_);
	tokens_.clear();
}

void DoubleState::SetFaults(const json &c) {
	std::lock_guard<std::mutex> lock(mu_);
	FaultConfig f;
	f.latency_ms = c.value("latency_ms", 0);
	f.rate_5xx = c.value("rate_5xx", 0.0);
	f.rate_429 = c.value("rate_429", 0.0);
	f.rate_timeout = c.value("rate_timeout", 0.0);
	f.rate_drop = c.value("rate_drop", 0.0);
	f.rate_business_error = c.value("rate_business_error", 0.0);
	f.timeout_ms = c.value("timeout_ms", 3000);
	f.business_error_for = c.value("business_error_for", std::string());
	faults_ = f;
	if (c.value("expire_tokens", false))
		tokens_.clear();
}

FaultConfig DoubleState::faults() {
	std::lock_guard<std::mutex> lock(mu_);
	return faults_;
}

Fault DoubleState::DrawFault(const std::string &identifier) {
	std::lock_guard<std::mutex> lock(mu_);
	if (!faults_.business_error_for.empty() && identifier.find(faults_.business_error_for) != std::string::npos)
		return Fault::kBusinessError;
	double r = std::uniform_real_distribution<double>(0, 1)(rng_);
	const std::pair<double, Fault> table[] = {{faults_.rate_5xx, Fault::k5xx},
	                                          {faults_.rate_429, Fault::k429},
	                                          {faults_.rate_timeout, Fault::kTimeoutAfterProcessing},
	                                          {faults_.rate_drop, Fault::kDropAfterProcessing},
	                                          {faults_.rate_business_error, Fault::kBusinessError}};
	for (const auto &[rate, fault] : table) {
		if (r < rate)
			return fault;
		r -= rate;
	}
	return Fault::kNone;
}

void DoubleState::CountFault(Fault fault) {
	static const char *kNames[] = {"none", "5xx", "429", "timeout", "drop", "business_error"};
	std::lock_guard<std::mutex> lock(mu_);
	++fault_counts_[kNames[static_cast<int>(fault)]];
}

std::string DoubleState::Process(const std::string &identifier, const std::string &step, const json &item) {
	std::lock_guard<std::mutex> lock(mu_);
	LicenceRecord &rec = licences_[identifier];
	++rec.processed[step];
	if (item.contains("certState") && item["certState"].is_string())
		rec.state = item["certState"].get<std::string>();
	if (item.contains("url") && item["url"].is_string())
		rec.preview_url = item["url"].get<std::string>();
	if (step != "assign_code")
		return {};
	char code[19];
	std::snprintf(code, sizeof code, "2026%s%012lld", province_prefix_.c_str(), next_code_++);
	rec.assigned_code = code;
	return rec.assigned_code;
}

json DoubleState::Lookup(const std::string &identifier) {
	std::lock_guard<std::mutex> lock(mu_);
	auto it = licences_.find(identifier);
	if (it == licences_.end())
		return nullptr;
	json processed = it->second.processed;
	return {{"eCertID", identifier},
	        {"processed", processed},
	        {"assignedCode", it->second.assigned_code},
	        {"certState", it->second.state},
	        {"url", it->second.preview_url}};
}

json DoubleState::Snapshot() {
	std::lock_guard<std::mutex> lock(mu_);
	json licences = json::object();
	for (const auto &[id, rec] : licences_)
		licences[id] = {{"processed", rec.processed}, {"assignedCode", rec.assigned_code}, {"certState", rec.state},
		                {"url", rec.preview_url}};
	return {{"licences", licences},
	        {"tokens_issued", tokens_issued_},
	        {"requests", requests_},
	        {"faults", fault_counts_}};
}

void DoubleState::CountRequest() {
	std::lock_guard<std::mutex> lock(mu_);
	++requests_;
}

}  // namespace elicense::testdouble
