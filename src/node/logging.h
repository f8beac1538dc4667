// Logging through spdlog, one named logger per module ("node", "core",
// "transport", "http", "gateway"). The filter is RUST_LOG-style: a default
// level, then module=level overrides, e.g. "info,core=debug,transport=warn".
#pragma once

#include <memory>
#include <spdlog/spdlog.h>
#include <string>

namespace pbft::node {

// Configures every module logger from `filter`; throws std::invalid_argument
// naming the bad part.
void init_logging(const std::string& filter, const std::string& prefix = "");
std::shared_ptr<spdlog::logger> logger(const std::string& module);

}  // namespace pbft::node
