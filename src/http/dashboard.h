// The dashboard page (web/dashboard.html), compiled into the binary at build
// time so that a node serves it with no files and no network access.
#pragma once

#include <string_view>

namespace pbft::http {

std::string_view dashboard_html();

}  // namespace pbft::http
