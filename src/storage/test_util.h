// Helpers shared by the storage tests.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "storage/storage.h"

namespace pbft::storage::testing {

using Contents = std::vector<std::pair<std::string, std::string>>;

// Every key and value in `view`, in scan order.
inline Contents contents(const ReadView& view) {
  Contents out;
  view.scan("", "", [&](std::string_view k, std::string_view v) {
    out.emplace_back(k, v);
    return true;
  });
  return out;
}

}  // namespace pbft::storage::testing
