#include "double_state.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace elicense::testdouble {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxRefusals = 100;

// The fields that say what a data item is about, per step: two items with the
// same values are the same change, whatever their eCertIDs.
const std::map<std::string, std::vector<std::string>> kNaturalKeyFields = {
    {"check", {"certNum", "operateType", "identityCard", "creditCode", "operationCategory"}},
    {"assign", {"certNum", "operateType", "zzeCertID", "associatedZzeCertID"}},
    {"collect", {"zzeCertID"}},
    {"status_update", {"zzeCertID", "operateType", "certState"}},
    {"key_change", {"certNum", "identityCard", "categoryCode"}},
};

std::string Text(const json &item, const char *field) {
	auto it = item.find(field);
	return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string NaturalKey(const std::string &type, const std::string &step, const json &item) {
	std::string key = type + "|" + step;
	auto fields = kNaturalKeyFields.find(step);
	if (fields != kNaturalKeyFields.end())
		for (const auto &f : fields->second)
			if (item.contains(f))
				key += "|" + f + "=" + Text(item, f.c_str());
	return key;
}

// eCertIDs compare without dashes and case, as the platform echoes either form.
std::string GuidKey(std::string guid) {
	guid.erase(std::remove(guid.begin(), guid.end(), '-'), guid.end());
	for (char &c : guid)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return guid;
}

std::string LastFour(const std::string &type) {
	return type.size() > 4 ? type.substr(type.size() - 4) : type;
}

}  // namespace

DoubleState::DoubleState(std::vector<Credential> credentials, int token_ttl_s, std::string province_prefix)
    : credentials_(std::move(credentials)), token_ttl_s_(token_ttl_s), province_prefix_(std::move(province_prefix)) {
	for (auto &c : credentials_) {
		std::set<std::string> types;
		for (const auto &t : c.types)
			types.insert(LastFour(t));  // "11100000000013338W032" and "W032" name the same type
		c.types = types;
	}
}

std::string DoubleState::IssueToken(const std::string &realm, const std::string &client_id,
                                    const std::string &client_secret) {
	std::lock_guard<std::mutex> lock(mu_);
	auto pair = std::find_if(credentials_.begin(), credentials_.end(), [&](const Credential &c) {
		return c.realm == realm && c.client_id == client_id && c.client_secret == client_secret;
	});
	if (pair == credentials_.end())
		return {};
	char token[33];
	std::snprintf(token, sizeof token, "%016llx%016llx", static_cast<unsigned long long>(rng_()),
	              static_cast<unsigned long long>(rng_()));
	tokens_[token] = {realm, pair->types, Clock::now() + std::chrono::seconds(token_ttl_s_)};
	++tokens_issued_;
	return token;
}

TokenCheck DoubleState::CheckToken(const std::string &token, const std::string &realm, const std::string &type) {
	std::lock_guard<std::mutex> lock(mu_);
	auto it = tokens_.find(token);
	if (it == tokens_.end() || it->second.realm != realm || Clock::now() >= it->second.expires)
		return TokenCheck::kInvalid;
	if (!it->second.types.empty() && !it->second.types.count(LastFour(type)))
		return TokenCheck::kWrongType;
	return TokenCheck::kValid;
}

void DoubleState::SetFaults(const json &c) {
	std::lock_guard<std::mutex> lock(mu_);
	FaultConfig f;
	f.latency_ms = c.value("latency_ms", 0);
	f.rate_5xx = c.value("rate_5xx", 0.0);
	f.rate_429 = c.value("rate_429", 0.0);
	f.rate_timeout = c.value("rate_timeout", 0.0);
	f.rate_drop = c.value("rate_drop", 0.0);
	f.rate_cut = c.value("rate_cut", 0.0);
	f.rate_odd = c.value("rate_odd", 0.0);
	f.odd_answer = c.value("odd_answer", std::string("empty"));
	f.odd_bytes = c.value("odd_bytes", 8LL << 20);
	f.rate_business_error = c.value("rate_business_error", 0.0);
	f.timeout_ms = c.value("timeout_ms", 3000);
	f.drop_reused_only = c.value("drop_reused_only", false);
	f.business_error_for = c.value("business_error_for", std::string());
	faults_ = f;
	if (c.value("expire_tokens", false))
		tokens_.clear();
}

FaultConfig DoubleState::faults() {
	std::lock_guard<std::mutex> lock(mu_);
	return faults_;
}

Fault DoubleState::DrawFault(const std::string &item_text, bool reused) {
	std::lock_guard<std::mutex> lock(mu_);
	if (!faults_.business_error_for.empty() && item_text.find(faults_.business_error_for) != std::string::npos)
		return Fault::kBusinessError;
	double r = std::uniform_real_distribution<double>(0, 1)(rng_);
	const double drop = faults_.drop_reused_only && !reused ? 0 : faults_.rate_drop;
	const std::pair<double, Fault> table[] = {{faults_.rate_5xx, Fault::k5xx},
	                                          {faults_.rate_429, Fault::k429},
	                                          {faults_.rate_timeout, Fault::kTimeoutAfterProcessing},
	                                          {drop, Fault::kDropAfterProcessing},
	                                          {faults_.rate_cut, Fault::kCutAfterProcessing},
	                                          {faults_.rate_odd, Fault::kOddAfterProcessing},
	                                          {faults_.rate_business_error, Fault::kBusinessError}};
	for (const auto &[rate, fault] : table) {
		if (r < rate)
			return fault;
		r -= rate;
	}
	return Fault::kNone;
}

void DoubleState::CountFault(Fault fault) {
	static const char *kNames[] = {"none", "5xx", "429", "timeout", "drop", "cut", "odd", "business_error"};
	std::lock_guard<std::mutex> lock(mu_);
	++fault_counts_[kNames[static_cast<int>(fault)]];
}

std::string DoubleState::NewCode() {
	char code[19];
	std::snprintf(code, sizeof code, "2026%2.2s%012lld", province_prefix_.c_str(), next_code_++);
	return code;
}

ItemResult DoubleState::Apply(const std::string &type, const std::string &step, const json &item,
                              const Encrypt &encrypt) {
	std::lock_guard<std::mutex> lock(mu_);
	ItemResult result;
	const std::string natural_key = NaturalKey(type, step, item);
	if (step == "check") {
		++checks_[natural_key];
		result.ok = true;
		return result;
	}
	const std::string zz = Text(item, "zzeCertID"), code_sent = Text(item, "ID");
	if (step == "collect") {
		// A strict platform only collects a code it assigned, for one licence.
		auto owner = code_owner_.find(code_sent);
		if (owner == code_owner_.end() || effects_[owner->second].type != type) {
			result.error = "ID " + code_sent + " is not a code this platform assigned for " + type + " (未赋码)";
			return result;
		}
		auto collected = code_collected_.find(code_sent);
		if (collected != code_collected_.end() && collected->second != zz) {
			result.error = "ID " + code_sent + " was already collected for " + collected->second + " (已归集)";
			return result;
		}
	}
	const std::string key = step == "collect" ? "collect:" + zz + ":" + code_sent : GuidKey(Text(item, "eCertID"));
	auto existing = effects_.find(key);
	if (existing != effects_.end()) {
		Effect &e = existing->second;
		if (e.type != type || e.step != step) {
			result.error = "eCertID " + Text(item, "eCertID") + " was already used for " + e.type + " " + e.step;
			return result;
		}
		++e.received;
		++natural_keys_[e.natural_key].received;
		if (item.dump() != e.first_item)
			++e.differing_repeats;
		result.ok = result.repeated = true;
		result.code = e.code;
		result.assignment = e.assignment;
		return result;
	}
	Effect e;
	e.type = type;
	e.step = step;
	e.ecert_id = Text(item, "eCertID");
	e.operate_type = Text(item, "operateType");
	e.cert_state = Text(item, "certState");
	e.zz_ecert_id = zz;
	e.associated = Text(item, "associatedZzeCertID");
	e.cert_num = Text(item, "certNum");
	e.url = Text(item, "url");
	e.natural_key = natural_key;
	e.first_item = item.dump();
	e.received = 1;
	if (step == "assign") {
		e.code = NewCode();
		e.assignment = encrypt(e.code, e.ecert_id);
		code_owner_[e.code] = key;
	}
	if (step == "collect") {
		e.code = code_sent;
		code_collected_[code_sent] = zz;
		// From now on the assignment is found by the licence it was collected for.
		const std::string &assign_key = code_owner_[code_sent];
		if (effects_[assign_key].zz_ecert_id.empty())
			by_zz_.emplace(zz, assign_key);
	}
	KeyCount &count = natural_keys_[natural_key];
	++count.effects;
	++count.received;
	result.ok = true;
	result.code = e.code;
	result.assignment = e.assignment;
	if (!e.ecert_id.empty())
		by_guid_.emplace(GuidKey(e.ecert_id), key);
	if (!e.zz_ecert_id.empty())
		by_zz_.emplace(e.zz_ecert_id, key);
	effects_[key] = std::move(e);
	return result;
}

std::vector<DoubleState::Found> DoubleState::Query(const std::string &type, const std::string &ecert_id,
                                                   const std::string &zz_ecert_id) {
	std::lock_guard<std::mutex> lock(mu_);
	std::vector<Found> found;
	const std::string wanted = GuidKey(ecert_id);
	// The candidates from the indexes, in effects_ order (the answer's order).
	std::set<std::string> keys;
	auto add = [&keys](const std::multimap<std::string, std::string> &index, const std::string &value) {
		for (auto [it, end] = index.equal_range(value); it != end; ++it)
			keys.insert(it->second);
	};
	if (!wanted.empty())
		add(by_guid_, wanted);
	if (!zz_ecert_id.empty())
		add(by_zz_, zz_ecert_id);
	for (const auto &key : keys) {
		const Effect &e = effects_.at(key);
		if (e.type != type)
			continue;
		// An assignment belongs to a licence once its code was collected for it.
		auto collected = e.step == "assign" ? code_collected_.find(e.code) : code_collected_.end();
		const std::string zz = !e.zz_ecert_id.empty()               ? e.zz_ecert_id
		                       : collected != code_collected_.end() ? collected->second
		                                                            : std::string();
		const bool by_ecert = !wanted.empty() && !e.ecert_id.empty() && GuidKey(e.ecert_id) == wanted;
		const bool by_zz = !zz_ecert_id.empty() && zz == zz_ecert_id;
		if (!by_ecert && !by_zz)
			continue;
		json item = json::object();
		auto put = [&item](const char *field, const std::string &value) {
			if (!value.empty())
				item[field] = value;
		};
		put("eCertID", e.ecert_id);
		put("zzeCertID", zz);
		put("associatedZzeCertID", e.associated);
		put("certNum", e.cert_num);
		put("operateType", e.operate_type);
		put("certState", e.cert_state);
		put("url", e.url);
		found.push_back({item, e.code});
	}
	return found;
}

void DoubleState::RecordRefusal(const std::string &type, const std::string &step,
                                const std::vector<std::string> &errors) {
	std::lock_guard<std::mutex> lock(mu_);
	++refused_;
	if (refusals_.size() == kMaxRefusals)
		refusals_.erase(refusals_.begin());
	refusals_.push_back({{"type", type}, {"step", step}, {"errors", errors}});
}

void DoubleState::CountRequest() {
	std::lock_guard<std::mutex> lock(mu_);
	++requests_;
}

// Per licence identifier, in the outbox's step names, for the sync tests:
// how often each step took effect (an assignment counts every assignment
// with the same natural key, so one sent twice under two eCertIDs shows 2).
json DoubleState::Licences() const {
	json licences = json::object();
	auto licence = [&licences](const std::string &zz) -> json & {
		json &l = licences[zz];
		if (l.is_null())
			l = {{"processed", json::object()},
			     {"assignedCode", ""},
			     {"url", ""},
			     {"certState", ""},
			     {"status_updates", json::array()}};
		return l;
	};
	for (const auto &[key, e] : effects_) {
		if (e.step == "assign") {
			auto collected = code_collected_.find(e.code);
			const std::string zz = !e.zz_ecert_id.empty()               ? e.zz_ecert_id
			                       : collected != code_collected_.end() ? collected->second
			                                                            : std::string();
			if (zz.empty())
				continue;
			json &l = licence(zz);
			const int n = natural_keys_.at(e.natural_key).effects;
			l["processed"]["assign_code"] = std::max(l["processed"].value("assign_code", 0), n);
			l["assignedCode"] = e.code;
		} else if (e.step == "collect") {
			json &l = licence(e.zz_ecert_id);
			l["processed"]["collect"] = natural_keys_.at(e.natural_key).effects;
			l["url"] = e.url;
		} else if (e.step == "status_update") {
			json &l = licence(e.zz_ecert_id);
			l["processed"]["status_update"] = l["processed"].value("status_update", 0) + 1;
			l["certState"] = e.cert_state;
			l["status_updates"].push_back(
			    {{"eCertID", e.ecert_id}, {"operateType", e.operate_type}, {"certState", e.cert_state}});
		}
	}
	return licences;
}

json DoubleState::Snapshot() {
	std::lock_guard<std::mutex> lock(mu_);
	json effects = json::object();
	for (const auto &[key, e] : effects_) {
		json j = {{"type", e.type},
		          {"step", e.step},
		          {"natural_key", e.natural_key},
		          {"received", e.received},
		          {"differing_repeats", e.differing_repeats}};
		auto put = [&j](const char *field, const std::string &value) {
			if (!value.empty())
				j[field] = value;
		};
		put("eCertID", e.ecert_id);
		put("operateType", e.operate_type);
		put("certState", e.cert_state);
		put("zzeCertID", e.zz_ecert_id);
		put("associatedZzeCertID", e.associated);
		put("certNum", e.cert_num);
		put("code", e.code);
		put("url", e.url);
		effects[key] = j;
	}
	json natural_keys = json::object(), duplicates = json::array();
	for (const auto &[key, count] : natural_keys_) {
		natural_keys[key] = {{"effects", count.effects}, {"received", count.received}};
		if (count.effects > 1)
			duplicates.push_back(key);
	}
	return {{"effects", effects},     {"natural_keys", natural_keys},    {"duplicates", duplicates},
	        {"checks", checks_},      {"licences", Licences()},          {"refused", refused_},
	        {"refusals", refusals_},  {"tokens_issued", tokens_issued_}, {"requests", requests_},
	        {"faults", fault_counts_}};
}

}  // namespace elicense::testdouble
