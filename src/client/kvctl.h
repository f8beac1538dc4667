// kvctl: the pbft-kv command-line tool.
//
//   kvctl keygen [--out FILE]                  a new replica key pair
//   kvctl config init --replicas N --base-port P --out DIR [--host H] [--cluster-id C]
//                                               a complete cluster's configs and keys
//   kvctl dev-cluster [--replicas 5] [--base-port 10000] [--data-dir DIR] [--node PATH]
//                                               runs the 5 dev-mode replicas locally
//   kvctl status / watch-cluster [...]          the cluster table (kvctl_status.h)
//   kvctl [--endpoints ..|--config ..] [-o table|json] put|get|del|scan|cas|txn ...
//                                               key-value commands (see kv_commands.h)
//   kvctl snapshot save|inspect|restore FILE ...  backups (see snapshot_commands.h)
#pragma once

#include <ostream>

namespace pbft::client {

// Runs kvctl; returns the process exit code. Output goes to `out`, errors
// and diagnostics to `err`.
int kvctl_main(int argc, char** argv, std::ostream& out, std::ostream& err);
// The same on std::cout and std::cerr.
int kvctl_main(int argc, char** argv);

}  // namespace pbft::client
