#include "CRE2.h"

#include <re2/re2.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

struct cre2_regex {
    re2::RE2 re;
    explicit cre2_regex(const std::string &pattern, const re2::RE2::Options &options) : re(pattern, options) {}
};

extern "C" cre2_regex *cre2_compile(const char *pattern, size_t length, char *err, size_t err_length) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_encoding(re2::RE2::Options::EncodingUTF8);
    cre2_regex *r = new cre2_regex(std::string(pattern, length), options);
    if (!r->re.ok()) {
        if (err && err_length > 0) {
            const std::string &message = r->re.error();
            size_t n = message.size() < err_length - 1 ? message.size() : err_length - 1;
            std::memcpy(err, message.data(), n);
            err[n] = 0;
        }
        delete r;
        return nullptr;
    }
    return r;
}

extern "C" void cre2_free(cre2_regex *re) { delete re; }

extern "C" int cre2_num_groups(const cre2_regex *re) { return re->re.NumberOfCapturingGroups(); }

extern "C" int cre2_full_match(const cre2_regex *re, const char *text, size_t length, int *offsets, int n_offsets) {
    re2::StringPiece input(text ? text : "", length);
    int groups = offsets ? n_offsets / 2 : 0;
    if (groups == 0) {
        return re->re.Match(input, 0, length, re2::RE2::ANCHOR_BOTH, nullptr, 0) ? 1 : 0;
    }
    re2::StringPiece small[16];
    std::vector<re2::StringPiece> large;
    re2::StringPiece *sub = small;
    if (groups > 16) {
        large.resize(groups);
        sub = large.data();
    }
    if (!re->re.Match(input, 0, length, re2::RE2::ANCHOR_BOTH, sub, groups)) return 0;
    for (int i = 0; i < groups; i++) {
        if (sub[i].data() == nullptr) {
            offsets[2 * i] = -1;
            offsets[2 * i + 1] = -1;
        } else {
            offsets[2 * i] = (int)(sub[i].data() - input.data());
            offsets[2 * i + 1] = offsets[2 * i] + (int)sub[i].size();
        }
    }
    return 1;
}

extern "C" int cre2_group_index(const cre2_regex *re, const char *name, size_t length) {
    const std::map<std::string, int> &names = re->re.NamedCapturingGroups();
    auto it = names.find(std::string(name, length));
    return it == names.end() ? -1 : it->second;
}
