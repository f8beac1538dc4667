#include "client/kvctl.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "common/temp_dir.h"
#include <thread>
#include <vector>

#include "client/dev_cluster.h"
#include "node/config.h"

namespace pbft::client {
namespace {

namespace fs = std::filesystem;

using pbft::TempDir;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Result {
  int code;
  std::string out;
  std::string err;
};

Result kvctl(std::vector<std::string> args) {
  args.insert(args.begin(), "kvctl");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream out, err;
  int code = kvctl_main(static_cast<int>(args.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

// --- keygen --------------------------------------------------------------------

TEST(Keygen, WithoutOutPrintsSeedAndPublicKey) {
  Result r = kvctl({"keygen"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string seed_line, public_line;
  std::getline(lines, seed_line);
  std::getline(lines, public_line);
  ASSERT_EQ(seed_line.rfind("seed: ", 0), 0u) << r.out;
  ASSERT_EQ(public_line.rfind("public_key: ", 0), 0u) << r.out;
  std::string seed_hex = seed_line.substr(6);
  auto seed_bytes = node::parse_public_key_hex(seed_hex);  // also 32 bytes of hex
  ASSERT_TRUE(seed_bytes) << seed_hex;
  std::array<uint8_t, crypto::seed_size> seed{};
  std::copy(seed_bytes->begin(), seed_bytes->end(), seed.begin());
  EXPECT_EQ(node::public_key_hex(crypto::key_pair_from_seed(seed).public_key), public_line.substr(12));
}

TEST(Keygen, OutWritesPrivateFileWithMatchingKey) {
  TempDir dir;
  std::string path = dir.file("replica.key");
  Result r = kvctl({"keygen", "--out", path});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(mode_of(path), 0600u);
  crypto::KeyPair key = node::read_key_file(path);
  EXPECT_EQ(r.out, node::public_key_hex(key.public_key) + "\n");

  // Never overwritten.
  std::string before = read_text(path);
  Result again = kvctl({"keygen", "--out", path});
  EXPECT_NE(again.code, 0);
  EXPECT_TRUE(contains(again.err, "already exists")) << again.err;
  EXPECT_EQ(read_text(path), before);

  Result missing_dir = kvctl({"keygen", "--out", dir.file("no/such/dir.key")});
  EXPECT_NE(missing_dir.code, 0);
  EXPECT_FALSE(fs::exists(dir.file("no")));
}

// --- config init -----------------------------------------------------------------

TEST(ConfigInit, WritesConfigsThatLoad) {
  TempDir dir;
  std::string out_dir = dir.file("cluster");
  Result r = kvctl({"config", "init", "--replicas", "4", "--base-port", "23000", "--out", out_dir,
                    "--cluster-id", "42"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 4; ++i) {
    std::string toml = out_dir + "/replica-" + std::to_string(i) + ".toml";
    EXPECT_TRUE(contains(r.out, "kv-node --config " + toml)) << r.out;
    node::NodeConfig c = node::load_config_file(toml);
    EXPECT_EQ(c.self, static_cast<ReplicaId>(i));
    EXPECT_EQ(c.cluster_id, 42u);
    EXPECT_EQ(c.members.size(), 4u);
    EXPECT_EQ(c.http_listen.port, 23000 + i);
    EXPECT_EQ(c.replica_listen.port, 23100 + i);
    EXPECT_EQ(mode_of(out_dir + "/replica-" + std::to_string(i) + ".key"), 0600u);
  }
  EXPECT_FALSE(fs::exists(out_dir + "/replica-4.toml"));

  // A second run refuses to overwrite anything.
  Result again = kvctl({"config", "init", "--replicas", "4", "--base-port", "23000", "--out", out_dir});
  EXPECT_NE(again.code, 0);
  EXPECT_TRUE(contains(again.err, "already exists")) << again.err;
}

TEST(ConfigInit, HostAndNonOptimalSize) {
  TempDir dir;
  Result r = kvctl({"config", "init", "--replicas", "5", "--base-port", "24000", "--out", dir.file("c"), "--host",
                    "node.example"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "note: 5 replicas")) << r.out;
  std::string text = read_text(dir.file("c/replica-0.toml"));
  EXPECT_TRUE(contains(text, "host = \"node.example\"")) << text;
}

TEST(ConfigInit, BadArgumentsFail) {
  TempDir dir;
  std::string d = dir.file("c");
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"config", "init", "--replicas", "0", "--base-port", "23000", "--out", d},
           {"config", "init", "--replicas", "-1", "--base-port", "23000", "--out", d},
           {"config", "init", "--replicas", "x", "--base-port", "23000", "--out", d},
           {"config", "init", "--replicas", "4", "--base-port", "70000", "--out", d},
           {"config", "init", "--replicas", "4", "--base-port", "65500", "--out", d},
           {"config", "init", "--replicas", "4", "--out", d},
           {"config", "init", "--replicas", "4", "--base-port", "23000"},
           {"config", "init", "--replicas", "4", "--base-port", "23000", "--out", d, "--host", "a b"},
           {"config", "init", "--replicas", "4", "--base-port", "23000", "--out", d, "--bogus"},
           {"config"},
           {"nonsense"},
           {},
       }) {
    Result r = kvctl(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_NE(r.code, 0) << joined;
    EXPECT_FALSE(r.err.empty()) << joined;
  }
  EXPECT_FALSE(fs::exists(d + "/replica-0.toml"));
}

TEST(Kvctl, HelpExitsZero) {
  Result r = kvctl({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(contains(r.out, "dev-cluster")) << r.out;
}

// --- dev-cluster -----------------------------------------------------------------

TEST(DevCluster, RefusesOtherSizesAndMissingBinary) {
  TempDir dir;
  Result r = kvctl({"dev-cluster", "--replicas", "4", "--node", "/bin/true", "--data-dir", dir.file("d")});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.err, "exactly 5 replicas")) << r.err;
  r = kvctl({"dev-cluster", "--node", dir.file("no-such-node"), "--data-dir", dir.file("d")});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.err, "no executable kv-node")) << r.err;
  r = kvctl({"dev-cluster", "--base-port", "65500", "--node", "/bin/true"});
  EXPECT_NE(r.code, 0);
}

TEST(DevCluster, DefaultNodeIsNextToTheExecutable) {
  std::string path = default_node_path();
  EXPECT_EQ(fs::path(path).filename(), "kv-node");
  std::error_code ec;
  EXPECT_EQ(fs::path(path).parent_path(), fs::read_symlink("/proc/self/exe", ec).parent_path());
}

// Runs `kvctl dev-cluster` with a fake replica script in a forked process
// whose output goes to a file.
class Supervised {
 public:
  Supervised(const TempDir& dir, const std::string& script, std::vector<std::string> extra = {})
      : output_(dir.file("supervisor.out")) {
    std::string node = dir.file("fake-node.sh");
    {
      std::ofstream s(node);
      s << "#!/bin/sh\n" << script;
    }
    ::chmod(node.c_str(), 0755);
    std::vector<std::string> args = {"kvctl", "dev-cluster", "--node", node, "--base-port", "20000", "--data-dir",
                                     dir.file("data")};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      int code;
      {
        std::ofstream out(output_);
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        code = kvctl_main(static_cast<int>(args.size()), argv.data(), out, out);
      }
      ::_exit(code);
    }
  }
  ~Supervised() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::string output() const { return read_text(output_); }

  // Waits until the output satisfies `done`; false after `timeout`.
  bool wait_for(const std::function<bool(const std::string&)>& done,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done(output())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done(output());
  }

  void signal(int sig) const { ::kill(pid_, sig); }

  // The exit status, or -1 if it does not exit within `timeout`.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  std::string output_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

TEST(DevCluster, PrefixesOutputAndStopsOnSigterm) {
  TempDir dir;
  Supervised s(dir,
               "echo \"hello from $PBFT_DEV base=$PBFT_DEV_BASE_PORT dir=$PBFT_DATA_DIR\"\n"
               "echo \"on stderr $PBFT_DEV\" >&2\n"
               "trap 'printf \"bye %s\" \"$PBFT_DEV\"; exit 0' TERM\n"
               "while :; do sleep 0.02; done\n");
  ASSERT_TRUE(s.wait_for([](const std::string& o) { return count(o, "hello from") == 5 && count(o, "on stderr") == 5; }))
      << s.output();
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0) << s.output();
  std::string out = s.output();
  for (int i = 0; i < 5; ++i) {
    std::string name = "replica" + std::to_string(i);
    std::string data = (dir.path() / "data" / ("replica-" + std::to_string(i))).string();
    EXPECT_TRUE(contains(out, name + " | hello from " + std::to_string(i) + " base=20000 dir=" + data + "\n")) << out;
    EXPECT_TRUE(contains(out, name + " | on stderr " + std::to_string(i) + "\n")) << out;
    // The partial last line is flushed when the replica exits.
    EXPECT_TRUE(contains(out, name + " | bye " + std::to_string(i) + "\n")) << out;
    EXPECT_TRUE(fs::is_directory(data));
  }
  EXPECT_TRUE(contains(out, "dev-cluster | got SIGTERM")) << out;
  EXPECT_FALSE(contains(out, "SIGKILL to")) << out;
}

TEST(DevCluster, OneReplicaExitingLeavesTheOthersRunning) {
  TempDir dir;
  Supervised s(dir,
               "if [ \"$PBFT_DEV\" = 2 ]; then echo dying; exit 3; fi\n"
               "trap 'echo \"bye $PBFT_DEV\"; exit 0' TERM\n"  // before "up": a SIGTERM may follow it at once
               "echo \"up $PBFT_DEV\"\n"
               "while :; do sleep 0.02; done\n");
  ASSERT_TRUE(s.wait_for([](const std::string& o) {
    return count(o, "| up ") == 4 && contains(o, "replica2 exited with status 3 unexpectedly");
  })) << s.output();
  EXPECT_TRUE(contains(s.output(), "replica2 | dying\n"));
  s.signal(SIGINT);
  EXPECT_EQ(s.wait_exit(), 0) << s.output();
  std::string out = s.output();
  for (int i : {0, 1, 3, 4}) EXPECT_TRUE(contains(out, "replica" + std::to_string(i) + " | bye ")) << out;
  EXPECT_TRUE(contains(out, "dev-cluster | got SIGINT")) << out;
}

TEST(DevCluster, KillsReplicasThatIgnoreSigterm) {
  TempDir dir;
  Supervised s(dir,
               "trap '' TERM\n"
               "echo \"stubborn $PBFT_DEV\"\n"
               "while :; do sleep 0.02; done\n",
               {"--stop-timeout-ms", "200"});
  ASSERT_TRUE(s.wait_for([](const std::string& o) { return count(o, "| stubborn ") == 5; })) << s.output();
  auto start = std::chrono::steady_clock::now();
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0) << s.output();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  std::string out = s.output();
  EXPECT_TRUE(contains(out, "still running after 200 ms: sending SIGKILL to replica0, replica1")) << out;
  EXPECT_TRUE(contains(out, "replica4 was killed by signal 9")) << out;
}

TEST(DevCluster, ExitsWhenEveryReplicaHasExited) {
  TempDir dir;
  Supervised s(dir, "echo \"short-lived $PBFT_DEV\"\nexit 1\n");
  EXPECT_EQ(s.wait_exit(), 1) << s.output();
  std::string out = s.output();
  EXPECT_EQ(count(out, "| short-lived "), 5) << out;
  EXPECT_TRUE(contains(out, "all replicas have exited")) << out;
}

}  // namespace
}  // namespace pbft::client
