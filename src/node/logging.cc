#include "node/logging.h"

#include <map>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sstream>
#include <stdexcept>

namespace pbft::node {
namespace {

const char* const modules[] = {"node", "core", "transport", "http", "gateway"};

spdlog::level::level_enum parse_level(const std::string& text) {
  static const std::map<std::string, spdlog::level::level_enum> levels = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  auto it = levels.find(text);
  if (it == levels.end())
    throw std::invalid_argument("PBFT_LOG: unknown level '" + text +
                                "' (trace, debug, info, warn, error, off)");
  return it->second;
}

}  // namespace

void init_logging(const std::string& filter, const std::string& prefix) {
  spdlog::level::level_enum fallback = spdlog::level::info;
  std::map<std::string, spdlog::level::level_enum> per_module;
  std::stringstream ss(filter);
  for (std::string part; std::getline(ss, part, ',');) {
    if (part.empty()) continue;
    auto eq = part.find('=');
    if (eq == std::string::npos) {
      fallback = parse_level(part);
      continue;
    }
    std::string module = part.substr(0, eq);
    bool known = false;
    for (const char* m : modules) known |= module == m;
    if (!known) throw std::invalid_argument("PBFT_LOG: unknown module '" + module + "'");
    per_module[module] = parse_level(part.substr(eq + 1));
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* m : modules) {
    spdlog::drop(m);
    auto log = std::make_shared<spdlog::logger>(m, sink);
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ " + prefix + "%n: %v");
    auto it = per_module.find(m);
    log->set_level(it == per_module.end() ? fallback : it->second);
    spdlog::register_logger(log);
  }
}

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  auto log = spdlog::get(module);
  if (!log) {
    log = spdlog::stderr_color_mt(module);
  }
  return log;
}

}  // namespace pbft::node
