#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace pbft {
namespace {
InvariantHandler g_handler = nullptr;
}

void set_invariant_handler(InvariantHandler handler) { g_handler = handler; }

void invariant_failed(const char* file, int line, const std::string& message) {
  if (g_handler != nullptr) g_handler(file, line, message);
  std::fprintf(stderr, "%s:%d: %s\n", file, line, message.c_str());
  std::abort();
}

}  // namespace pbft
