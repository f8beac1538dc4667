// A failing disk for the chaos runner (tests/chaos/run_chaos.py), as a
// library preloaded into kv-node (LD_PRELOAD): while the file named by
// PBFT_DISK_FAULT_FILE exists, fsync and fdatasync fail with EIO, as they
// do when a disk stops taking writes. Test-only; never linked into a
// product binary.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

namespace {

bool disk_failed() {
  static const char* const flag = std::getenv("PBFT_DISK_FAULT_FILE");
  struct stat st {};
  return flag != nullptr && ::stat(flag, &st) == 0;
}

using SyncFn = int (*)(int);

SyncFn next_definition(const char* name) { return reinterpret_cast<SyncFn>(::dlsym(RTLD_NEXT, name)); }

int sync_or_fail(SyncFn real, int fd) {
  if (disk_failed() || real == nullptr) {
    errno = EIO;
    return -1;
  }
  return real(fd);
}

}  // namespace

extern "C" int fsync(int fd) {
  static const SyncFn real = next_definition("fsync");
  return sync_or_fail(real, fd);
}

extern "C" int fdatasync(int fd) {
  static const SyncFn real = next_definition("fdatasync");
  return sync_or_fail(real, fd);
}
