#include "client/dev_cluster.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

extern char** environ;

namespace pbft::client {

namespace fs = std::filesystem;

std::string default_node_path() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "kv-node";
  return (self.parent_path() / "kv-node").string();
}

namespace {

using Clock = std::chrono::steady_clock;

// A line longer than this is passed on in pieces.
constexpr size_t line_bytes_max = 64u << 10;
// After the last replica is reaped, how long to wait for output still in
// its pipe (a stray grandchild may hold the pipe open forever).
constexpr auto drain_timeout = std::chrono::milliseconds(500);
// A stop signal repeated within this time is not a second request.
constexpr auto repeat_signal_grace = std::chrono::milliseconds(500);

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "stopped with status " + std::to_string(status);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

// Writes an unsigned number with only async-signal-safe calls.
void write_number(int fd, unsigned value) {
  char buffer[16];
  size_t i = sizeof buffer;
  do {
    buffer[--i] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0 && i > 0);
  [[maybe_unused]] ssize_t n = ::write(fd, buffer + i, sizeof buffer - i);
}

struct Child {
  uint32_t index = 0;
  pid_t pid = -1;
  int fd = -1;  // read end of the pipe carrying its stdout and stderr
  std::string partial;
  bool running = false;
};

class Supervisor {
 public:
  Supervisor(const DevClusterOptions& options, std::string node_path, std::string data_dir, std::ostream& out)
      : options_(options), node_path_(std::move(node_path)), data_dir_(std::move(data_dir)), out_(out) {}

  ~Supervisor() {
    for (Child& c : children_)
      if (c.fd >= 0) ::close(c.fd);
    if (signal_fd_ >= 0) {
      // Consume what arrived since the last poll, so that unblocking below
      // does not act on it.
      signalfd_siginfo info;
      while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      }
      ::close(signal_fd_);
    }
    if (mask_saved_) ::sigprocmask(SIG_SETMASK, &saved_mask_, nullptr);
    if (dev_null_ >= 0) ::close(dev_null_);
  }

  // Returns an error message, or nothing once the signals are in hand.
  std::optional<std::string> prepare() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&set, sig);
    if (::sigprocmask(SIG_BLOCK, &set, &saved_mask_) != 0) return std::string("sigprocmask: ") + std::strerror(errno);
    mask_saved_ = true;
    signal_fd_ = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (signal_fd_ < 0) return std::string("signalfd: ") + std::strerror(errno);
    dev_null_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (dev_null_ < 0) return std::string("/dev/null: ") + std::strerror(errno);
    return std::nullopt;
  }

  int run() {
    note("starting " + std::to_string(options_.replicas) + " dev replicas of " + node_path_ + ": HTTP on 127.0.0.1:" +
         std::to_string(options_.base_port) + ".." + std::to_string(options_.base_port + options_.replicas - 1) +
         ", binary client protocol on " + std::to_string(options_.base_port + 200) + ".." +
         std::to_string(options_.base_port + 200 + options_.replicas - 1) + ", data in " + data_dir_ + "; Ctrl-C stops them (the dev keys are NOT secret)");
    bool failed = false;
    for (uint32_t i = 0; i < options_.replicas; ++i) {
      if (!spawn(i)) {
        failed = true;
        begin_stop("a replica could not be started");
        break;
      }
    }
    loop();
    if (failed) return 1;
    if (!stopping_) {
      return 1;
    }
    note("all replicas stopped");
    return 0;
  }

 private:
  void note(const std::string& text) {
    out_ << "dev-cluster | " << text << '\n';
    out_.flush();
  }

  void emit(const Child& c, std::string_view line) {
    out_ << "replica" << c.index << " | " << line << '\n';
  }

  bool spawn(uint32_t index) {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      std::string_view name = entry.substr(0, entry.find('='));
      if (name == "PBFT_DEV" || name == "PBFT_DEV_BASE_PORT" || name == "PBFT_DATA_DIR") continue;
      env.emplace_back(entry);
    }
    const std::string replica_dir = (fs::path(data_dir_) / ("replica-" + std::to_string(index))).string();
    env.push_back("PBFT_DEV=" + std::to_string(index));
    env.push_back("PBFT_DEV_BASE_PORT=" + std::to_string(options_.base_port));
    env.push_back("PBFT_DATA_DIR=" + replica_dir);
    std::vector<char*> envp;
    for (std::string& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string path = node_path_;
    std::array<char*, 2> argv{path.data(), nullptr};
    static constexpr char exec_failed[] = "dev-cluster: cannot execute the replica binary, errno ";

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      note("replica" + std::to_string(index) + ": pipe: " + std::strerror(errno));
      return false;
    }
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      note("replica" + std::to_string(index) + ": fork: " + std::strerror(err));
      return false;
    }
    if (pid == 0) {
      // The child: async-signal-safe calls only, up to execve.
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) ::sigaction(sig, &dfl, nullptr);
      // Its own process group: a terminal's Ctrl-C reaches only the
      // supervisor, which stops the replicas in order.
      ::setpgid(0, 0);
      // Do not outlive the supervisor.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(dev_null_, 0);
      ::dup2(pipe_fds[1], 1);
      ::dup2(pipe_fds[1], 2);
      ::execve(argv[0], argv.data(), envp.data());
      int err = errno;
      [[maybe_unused]] ssize_t n = ::write(2, exec_failed, sizeof exec_failed - 1);
      write_number(2, static_cast<unsigned>(err));
      n = ::write(2, "\n", 1);
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here, so the group exists before any signal
    ::close(pipe_fds[1]);
    ::fcntl(pipe_fds[0], F_SETFL, ::fcntl(pipe_fds[0], F_GETFL) | O_NONBLOCK);
    Child c;
    c.index = index;
    c.pid = pid;
    c.fd = pipe_fds[0];
    c.running = true;
    children_.push_back(std::move(c));
    note("replica" + std::to_string(index) + ": started, pid " + std::to_string(pid) + ", PBFT_DEV=" +
         std::to_string(index) + " PBFT_DATA_DIR=" + replica_dir);
    return true;
  }

  bool any_running() const {
    return std::any_of(children_.begin(), children_.end(), [](const Child& c) { return c.running; });
  }
  bool any_open() const {
    return std::any_of(children_.begin(), children_.end(), [](const Child& c) { return c.fd >= 0; });
  }

  void signal_all(int sig) {
    for (const Child& c : children_) {
      if (!c.running) continue;
      if (::kill(-c.pid, sig) != 0) ::kill(c.pid, sig);
    }
  }

  void begin_stop(const std::string& why) {
    if (stopping_) return;
    stopping_ = true;
    stop_started_ = Clock::now();
    kill_at_ = Clock::now() + std::chrono::milliseconds(options_.stop_timeout_ms);
    if (any_running()) {
      note(why + ": sending SIGTERM to the replicas (SIGKILL after " + std::to_string(options_.stop_timeout_ms) +
           " ms)");
      signal_all(SIGTERM);
    }
  }

  void kill_remaining(const std::string& why) {
    killed_ = true;
    if (!any_running()) return;
    std::string names;
    for (const Child& c : children_)
      if (c.running) names += (names.empty() ? "replica" : ", replica") + std::to_string(c.index);
    note(why + ": sending SIGKILL to " + names);
    signal_all(SIGKILL);
  }

  void reap() {
    for (Child& c : children_) {
      if (!c.running) continue;
      int status = 0;
      pid_t r = ::waitpid(c.pid, &status, WNOHANG);
      if (r == 0) continue;
      if (r < 0 && errno == EINTR) continue;
      c.running = false;
      // Output it wrote before exiting comes first.
      read_output(c);
      std::string what = r < 0 ? "is gone" : describe_status(status);
      if (stopping_) {
        note("replica" + std::to_string(c.index) + " " + what);
      } else {
        note("replica" + std::to_string(c.index) + " " + what + " unexpectedly; the other replicas keep running");
      }
    }
    if (!stopping_ && !any_running()) note("all replicas have exited");
  }

  void close_output(Child& c) {
    if (!c.partial.empty()) {
      emit(c, c.partial);  // the last line, without its newline
      c.partial.clear();
    }
    ::close(c.fd);
    c.fd = -1;
  }

  void read_output(Child& c) {
    std::array<char, 16384> buffer;
    while (c.fd >= 0) {
      ssize_t n = ::read(c.fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        close_output(c);
        break;
      }
      c.partial.append(buffer.data(), static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = c.partial.find('\n', start)) != std::string::npos; start = nl + 1)
        emit(c, std::string_view(c.partial).substr(start, nl - start));
      c.partial.erase(0, start);
      if (c.partial.size() >= line_bytes_max) {
        emit(c, c.partial);
        c.partial.clear();
      }
    }
    out_.flush();
  }

  void handle_signals() {
    signalfd_siginfo info;
    bool child_changed = false;
    while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      int sig = static_cast<int>(info.ssi_signo);
      if (sig == SIGCHLD) {
        child_changed = true;
      } else if (!stopping_) {
        begin_stop(std::string("got ") + signal_name(sig));
      } else if (!killed_ && Clock::now() - stop_started_ >= repeat_signal_grace) {
        // A second Ctrl-C means "now". One that follows the first at once
        // is the same request delivered twice (timeout(1) and some service
        // managers signal both the process and its group).
        kill_remaining(std::string("got ") + signal_name(sig) + " again");
      }
    }
    if (child_changed) reap();
  }

  static int ms_until(Clock::time_point t) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 60'000));
  }

  void loop() {
    std::optional<Clock::time_point> drain_until;
    std::vector<pollfd> fds;
    std::vector<Child*> owners;
    while (any_running() || any_open()) {
      if (!any_running() && !drain_until) drain_until = Clock::now() + drain_timeout;
      if (drain_until && Clock::now() >= *drain_until) {
        for (Child& c : children_)
          if (c.fd >= 0) close_output(c);
        break;
      }
      int timeout = -1;
      if (stopping_ && !killed_ && any_running()) timeout = ms_until(kill_at_);
      if (drain_until) timeout = timeout < 0 ? ms_until(*drain_until) : std::min(timeout, ms_until(*drain_until));

      fds.clear();
      owners.clear();
      fds.push_back(pollfd{signal_fd_, POLLIN, 0});
      for (Child& c : children_) {
        if (c.fd < 0) continue;
        fds.push_back(pollfd{c.fd, POLLIN, 0});
        owners.push_back(&c);
      }
      int ready = ::poll(fds.data(), fds.size(), timeout);
      if (ready < 0 && errno != EINTR) {
        note(std::string("poll: ") + std::strerror(errno));
        begin_stop("internal error");
        kill_remaining("internal error");
        break;
      }
      if (ready > 0) {
        for (size_t i = 1; i < fds.size(); ++i)
          if (fds[i].revents != 0) read_output(*owners[i - 1]);
        if (fds[0].revents != 0) handle_signals();
      }
      if (stopping_ && !killed_ && any_running() && Clock::now() >= kill_at_)
        kill_remaining("still running after " + std::to_string(options_.stop_timeout_ms) + " ms");
    }
    // Whatever is left (only after an internal error): kill and collect.
    if (any_running()) {
      signal_all(SIGKILL);
      for (Child& c : children_) {
        if (!c.running) continue;
        int status = 0;
        while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
        }
        c.running = false;
      }
    }
    for (Child& c : children_)
      if (c.fd >= 0) close_output(c);
    out_.flush();
  }

  const DevClusterOptions& options_;
  const std::string node_path_;
  const std::string data_dir_;
  std::ostream& out_;
  std::vector<Child> children_;
  int signal_fd_ = -1;
  int dev_null_ = -1;
  sigset_t saved_mask_{};
  bool mask_saved_ = false;
  bool stopping_ = false;
  bool killed_ = false;
  Clock::time_point stop_started_{};
  Clock::time_point kill_at_{};
};

// An executable's path: as given when it names a folder, else looked up in PATH.
std::optional<std::string> find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0 && !fs::is_directory(name)) return name;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (fs::path(dir.empty() ? "." : dir) / name).string();
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

}  // namespace

int run_dev_cluster(const DevClusterOptions& options, std::ostream& out, std::ostream& err) {
  if (options.replicas != 5) {
    err << "kvctl dev-cluster: dev mode runs exactly 5 replicas (its keys and ports are built in), not "
        << options.replicas << ".\nFor another cluster size, write configs with `kvctl config init --replicas N "
        << "--base-port P --out DIR` and start each with `kv-node --config DIR/replica-<i>.toml`.\n";
    return 2;
  }
  constexpr uint32_t port_span = 200 + 5 - 1;
  if (options.base_port == 0 || options.base_port > 65535 - port_span) {
    err << "kvctl dev-cluster: --base-port " << options.base_port << " leaves no room for ports base..base+"
        << port_span << " (use 1.." << 65535 - port_span << ")\n";
    return 2;
  }
  const std::string requested = options.node_path.empty() ? default_node_path() : options.node_path;
  std::optional<std::string> node_path = find_executable(requested);
  if (!node_path) {
    err << "kvctl dev-cluster: no executable kv-node at " << requested
        << (options.node_path.empty() ? " (build it with `cmake --build build --target kv-node`, or pass --node PATH)"
                                      : "")
        << "\n";
    return 1;
  }
  std::error_code ec;
  fs::path data_dir = fs::absolute(options.data_dir.empty() ? fs::path("data") : fs::path(options.data_dir), ec);
  if (ec) {
    err << "kvctl dev-cluster: " << options.data_dir << ": " << ec.message() << "\n";
    return 1;
  }
  data_dir = data_dir.lexically_normal();
  for (uint32_t i = 0; i < options.replicas; ++i) {
    fs::path dir = data_dir / ("replica-" + std::to_string(i));
    fs::create_directories(dir, ec);
    if (ec) {
      err << "kvctl dev-cluster: cannot create " << dir.string() << ": " << ec.message() << "\n";
      return 1;
    }
  }
  Supervisor supervisor(options, *node_path, data_dir.string(), out);
  if (auto problem = supervisor.prepare()) {
    err << "kvctl dev-cluster: " << *problem << "\n";
    return 1;
  }
  return supervisor.run();
}

}  // namespace pbft::client
