// What the fuzz targets share: a check that stays on in every build and
// makes libFuzzer keep the input that broke it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                        \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #cond, \
                   what);                                                             \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)
