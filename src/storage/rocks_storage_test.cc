// What only the RocksDB storage does: durability across close, process
// crashes and folder locking, and errors that say what failed where.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/temp_dir.h"
#include "storage/rocks_storage.h"
#include "storage/test_util.h"

namespace pbft::storage {
namespace {

using testing::Contents;
using testing::contents;

std::string key_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%06d", i);
  return buf;
}

// A child process started with fork(), reporting over a pipe. The child
// writes one byte when it is ready, then waits until killed or told to go.
class Child {
 public:
  template <typename Body>
  explicit Child(Body body) {
    if (::pipe(ready_) != 0 || ::pipe(go_) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ < 0) std::abort();
    if (pid_ == 0) {
      ::close(ready_[0]);
      ::close(go_[1]);
      int code = 0;
      try {
        body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child failed: %s\n", e.what());
        code = 1;
      }
      char byte = static_cast<char>(code);
      if (::write(ready_[1], &byte, 1) != 1) ::_exit(2);
      (void)::read(go_[0], &byte, 1);  // returns when the parent closes its end
      ::_exit(code);  // without running destructors: the database stays as a crash leaves it
    }
    ::close(ready_[1]);
    ::close(go_[0]);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(ready_[0]);
    if (go_[1] >= 0) ::close(go_[1]);
  }

  // True when the child's body ran without throwing (within 60 s).
  bool wait_ready() {
    pollfd p{ready_[0], POLLIN, 0};
    if (::poll(&p, 1, 60000) != 1) return false;
    char byte = 1;
    return ::read(ready_[0], &byte, 1) == 1 && byte == 0;
  }
  void kill_now() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  void let_go() {
    ::close(go_[1]);
    go_[1] = -1;
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int ready_[2]{-1, -1};
  int go_[2]{-1, -1};
};

TEST(RocksStorage, CreatesMissingFolders) {
  TempDir dir;
  std::string path = dir.file("a/b/db");
  auto db = RocksStorage::open(path);
  EXPECT_TRUE(std::filesystem::is_directory(path));
  EXPECT_EQ(db->dir(), path);
}

TEST(RocksStorage, DataSurvivesCloseAndReopen) {
  TempDir dir;
  std::string path = dir.file("db");
  {
    auto db = RocksStorage::open(path);
    WriteBatch b;
    b.put("a", "1");
    b.put("b", "2");
    db->write(b, true);
    WriteBatch c;
    c.del("a");
    c.put("c", "3");
    db->write(c, false);  // not synced: a clean close keeps it too
  }
  auto db = RocksStorage::open(path);
  EXPECT_EQ(contents(*db), (Contents{{"b", "2"}, {"c", "3"}}));
}

TEST(RocksStorage, SnapshotOutlivesStorage) {
  TempDir dir;
  auto db = RocksStorage::open(dir.file("db"));
  WriteBatch b;
  b.put("a", "1");
  db->write(b, false);
  auto snap = db->snapshot();
  db.reset();  // the view keeps the database open
  EXPECT_EQ(snap->get("a"), "1");
  EXPECT_EQ(contents(*snap), (Contents{{"a", "1"}}));
}

TEST(RocksStorage, SecondOpenInThisProcessFailsClearly) {
  TempDir dir;
  std::string path = dir.file("db");
  auto db = RocksStorage::open(path);
  try {
    RocksStorage::open(path);
    FAIL() << "a second open of the same folder succeeded";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("data folder " + path + " is in use by this process"),
              std::string::npos)
        << e.what();
  }
}

TEST(RocksStorage, OpenOfFolderHeldByAnotherProcessFailsClearly) {
  TempDir dir;
  std::string path = dir.file("db");
  Child child([&] { RocksStorage::open(path).release(); });  // stays open until the child exits
  ASSERT_TRUE(child.wait_ready());
  try {
    RocksStorage::open(path);
    ADD_FAILURE() << "opened a folder another process holds";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("data folder " + path + " is in use by another process"),
              std::string::npos)
        << e.what();
  }
  child.let_go();
  // Once the holder is gone, the folder opens.
  EXPECT_NO_THROW(RocksStorage::open(path));
}

TEST(RocksStorage, ProcessKilledAfterUnsyncedWritesLosesNothing) {
  TempDir dir;
  std::string path = dir.file("db");
  constexpr int batches = 300;
  Child child([&] {
    auto db = RocksStorage::open(path);
    for (int i = 0; i < batches; ++i) {
      WriteBatch b;
      b.put(key_of(i), std::string(100, static_cast<char>('a' + i % 26)));
      b.put("last", std::to_string(i));
      db->write(b, /*sync=*/false);
    }
    db.release();  // SIGKILL will close it
  });
  ASSERT_TRUE(child.wait_ready());
  child.kill_now();

  auto db = RocksStorage::open(path);
  EXPECT_EQ(db->get("last"), std::to_string(batches - 1));
  int found = 0;
  db->scan("k", "l", [&](std::string_view k, std::string_view v) {
    EXPECT_EQ(k, key_of(found));
    EXPECT_EQ(v, std::string(100, static_cast<char>('a' + found % 26)));
    ++found;
    return true;
  });
  EXPECT_EQ(found, batches);
}

TEST(RocksStorage, OpenOnARegularFileFailsClearly) {
  TempDir dir;
  std::string file = dir.file("not-a-folder");
  std::ofstream(file) << "x";
  try {
    RocksStorage::open(file);
    FAIL() << "opened a regular file as a data folder";
  } catch (const StorageError& e) {
    EXPECT_EQ(std::string(e.what()), "data folder " + file + " exists but is not a folder");
  }
  try {
    RocksStorage::open(file + "/db");  // a folder under a file cannot be made
    FAIL() << "made a folder under a regular file";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create data folder " + file + "/db: "), std::string::npos)
        << e.what();
  }
}

// Root ignores permissions, so the failing disk is a file size limit
// (RLIMIT_FSIZE): a write past it fails with EFBIG, even as root.
TEST(RocksStorage, FailedWriteThrowsNamingOperationAndFolder) {
  TempDir dir;
  std::string path = dir.file("db");
  auto db = RocksStorage::open(path);

  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of death
  rlimit small = old;
  small.rlim_cur = 1 << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error;
  try {
    WriteBatch b;
    b.put("big", std::string(2 << 20, 'x'));
    db->write(b, true);
  } catch (const StorageError& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(error.rfind("storage write failed in " + path + ": IO error: ", 0), 0u) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
}

}  // namespace
}  // namespace pbft::storage
