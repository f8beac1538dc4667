// Invariant checks that stay on in release builds. A replica that finds an
// invariant broken stops rather than risk diverging from its peers.
#pragma once

#include <string>

namespace pbft {

// Called when an invariant fails. The default prints the message and aborts;
// the simulator installs a handler that throws, so that it can report the
// seed that led there.
using InvariantHandler = void (*)(const char* file, int line, const std::string& message);
void set_invariant_handler(InvariantHandler handler);
[[noreturn]] void invariant_failed(const char* file, int line, const std::string& message);

}  // namespace pbft

#define PBFT_ASSERT(cond, msg)                                        \
  do {                                                                \
    if (!(cond)) [[unlikely]]                                         \
      ::pbft::invariant_failed(__FILE__, __LINE__,                    \
                               std::string("invariant failed: " #cond \
                                           ": ") + (msg));            \
  } while (0)
