// A failing disk for the chaos runner (tests/chaos/run_chaos.py), as a
// library preloaded into kv-node (LD_PRELOAD): while the file named by
// PBFT_DISK_FAULT_FILE exists, fsync and fdatasync fail with EIO, as they
// do when a disk stops taking writes; the first failure creates that name
// with ".hit" appended, so the runner knows the fault was met. Test-only;
// never linked into a product binary.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace {

bool disk_failed() {
  static const char* const flag = std::getenv("PBFT_DISK_FAULT_FILE");
  struct stat st {};
  return flag != nullptr && ::stat(flag, &st) == 0;
}

using SyncFn = int (*)(int);

SyncFn next_definition(const char* name) { return reinterpret_cast<SyncFn>(::dlsym(RTLD_NEXT, name)); }

void note_hit() {
  static bool noted = false;
  if (noted) return;
  noted = true;
  const std::string hit = std::string(std::getenv("PBFT_DISK_FAULT_FILE")) + ".hit";
  const int fd = ::open(hit.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
}

int sync_or_fail(SyncFn real, int fd) {
  if (disk_failed() || real == nullptr) {
    if (real != nullptr) note_hit();
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
