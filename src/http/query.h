// Parsing what arrives in a request line: percent escapes, the query
// string, UTF-8. Shared by the API's route files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pbft::http {

// Decodes %XX escapes only ('+' stays '+'). False on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);
bool is_valid_utf8(std::string_view s);

// The query's parameters, decoded; an error message (for a 400) on a
// malformed escape or a parameter given twice.
struct Query {
  std::map<std::string, std::string> params;
  std::string error;  // empty: parsed
  const std::string* find(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? nullptr : &it->second;
  }
};
Query parse_query(std::string_view query);

}  // namespace pbft::http
