// One PBFT replica as a deterministic state machine (Castro & Liskov,
// OSDI '99, with signed view changes). Events go in through receive(),
// receive_request(), tick() and state_transferred(); what the host must do
// comes out of take_output() (see output.h for the ordering rules).
//
// No sockets, threads, clocks, randomness or files: time is a tick count,
// authentication goes through the Crypto interface and the application
// through the StateMachine interface.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/types.h"
#include "core/client_table.h"
#include "core/config.h"
#include "core/output.h"
#include "core/request_bundle.h"
#include "core/state_machine.h"
#include "crypto/crypto.h"
#include "wire/messages.h"

namespace pbft::core {

// Agreement state of one sequence number in the current view.
struct Slot {
  std::optional<wire::PrePrepare> pre_prepare;
  std::map<ReplicaId, wire::Prepare> prepares;
  std::map<ReplicaId, wire::Commit> commits;
  bool prepared = false;   // pre-prepare + q-1 matching prepares
  bool committed = false;  // prepared + q matching commits
  bool operator==(const Slot&) const = default;
};

struct OwnCheckpoint {
  Digest digest;
  Bytes snapshot;  // client table + application state at that sequence number
  bool operator==(const OwnCheckpoint&) const = default;
};

// What a replica must find again after a crash: everything it has promised
// to others, and the executed state. The host persists it (with the
// StateMachine) whenever Output::persist is set, before sending.
struct DurableState {
  View view = 0;
  bool view_active = true;               // false while changing to `view`
  std::optional<wire::NewView> new_view;  // what started `view` (view > 0)
  std::optional<wire::ViewChange> view_change;  // the last one this replica sent
  // The view change this replica asked for while working in `view` (spent
  // once at or below it). Durable because peers count it: a restart must
  // not withdraw an ask that may have made a peer leave the view.
  View asked_view = 0;
  Seq stable_seq = 0;                    // h, the low watermark
  Digest stable_digest;
  std::vector<wire::Checkpoint> stable_cert;  // q signed checkpoints (empty at 0)
  Seq last_executed = 0;
  Seq last_proposed = 0;                 // highest seq with a pre-prepare in this view
  std::map<Seq, Slot> slots;             // seq in (h, h + L], current view only
  std::map<Seq, wire::PreparedCert> prepared_certs;  // highest-view certificate per seq > h
  std::map<Seq, Digest> executed_digests;            // seq in (h, last_executed]
  std::map<Seq, OwnCheckpoint> checkpoints;          // own checkpoints at seq >= h
  ClientTable clients;
  bool operator==(const DurableState&) const = default;
};

// Counters of what was dropped and why, for metrics and tests.
struct RejectCounts {
  uint64_t bad_signature = 0;
  uint64_t wrong_sender = 0;
  uint64_t wrong_view = 0;
  uint64_t out_of_window = 0;
  uint64_t malformed = 0;
  uint64_t conflicting = 0;
  uint64_t bad_certificate = 0;
  uint64_t bad_state = 0;
  uint64_t muted = 0;  // dropped unread from a peer caught signing garbage
};

// Each count with its name, for metrics and the state route.
inline std::array<std::pair<const char*, uint64_t>, 9> named_counts(const RejectCounts& r) {
  return {{{"bad_signature", r.bad_signature},
           {"wrong_sender", r.wrong_sender},
           {"wrong_view", r.wrong_view},
           {"out_of_window", r.out_of_window},
           {"malformed", r.malformed},
           {"conflicting", r.conflicting},
           {"bad_certificate", r.bad_certificate},
           {"bad_state", r.bad_state},
           {"muted", r.muted}}};
}

// What a peer last said about itself in a STATUS message (read-only
// observation for the host's readiness check; the protocol does not use it).
struct PeerReport {
  View view = 0;
  bool view_active = true;
  Seq stable_seq = 0;
  Seq last_executed = 0;
  bool operator==(const PeerReport&) const = default;
};

class Replica {
 public:
  Replica(const Config& config, ReplicaId id, const crypto::Crypto& crypto,
          StateMachine& state_machine, DurableState durable = {});

  // A request straight from a client.
  void receive_request(const wire::Request& request);
  // The same, when the host has checked its signature already (it does so
  // before it routes this client's replies to the connection it came on):
  // not checked twice.
  void receive_checked_request(const wire::Request& request);
  // A request of this replica's own gateway (common/client_id.h), made by
  // the host itself: its signature is this replica's own and is not
  // checked. The gateway sends it to every replica itself, so it is not
  // relayed to the primary.
  void receive_own_request(const wire::Request& request);
  // A message from replica `from`; the host has authenticated the link, so
  // `from` is who sent it (not necessarily who signed what is inside).
  void receive(ReplicaId from, const wire::Message& message);
  // One unit of time passed.
  void tick();
  // The host's answer to Output::fetch_state: the snapshot at `seq`.
  // Checked against the certified digest; a bad one is dropped and asked
  // for again later.
  void state_transferred(Seq seq, ByteView snapshot);

  // Config::defer_proposals: the host's answer to Output::propose. Closes
  // as many batches as the pipeline has room for.
  void propose();

  Output take_output();
  // The host persisted what the last output asked for (Output::resume):
  // execution may go on past the checkpoint it stopped at.
  void resume();

  ReplicaId id() const { return id_; }
  View view() const { return d_.view; }
  bool view_active() const { return d_.view_active; }
  ReplicaId primary_of(View v) const { return static_cast<ReplicaId>(v % config_.replica_count); }
  bool is_primary() const { return d_.view_active && primary_of(d_.view) == id_; }
  Seq last_executed() const { return d_.last_executed; }
  Seq stable_seq() const { return d_.stable_seq; }
  const DurableState& durable() const { return d_; }
  const RejectCounts& rejected() const { return rejected_; }
  // Whether messages from `peer` are dropped unread now, and how often a
  // peer was muted (Config::mute_faulty_peer_ticks).
  bool muted(ReplicaId peer) const;
  uint64_t mutes() const { return mutes_; }
  // View changes this replica asked for because the primary left a request
  // unproposed for Config::proposal_timeout_ticks.
  uint64_t slow_primary_view_changes() const { return slow_primary_view_changes_; }
  // The view this replica asked to change to (durable; spent once at or
  // below view()), and the ask that stands now: 0 when it asks for none.
  View asked_view() const { return d_.asked_view; }
  View asking_view() const { return d_.view_active && d_.asked_view > d_.view ? d_.asked_view : 0; }
  const Config& config() const { return config_; }
  // Read-only views for metrics and the dashboard (no behaviour depends on
  // them): the checkpoint votes collected above the stable checkpoint, the
  // valid view changes for the view being changed to, and each peer's last
  // STATUS report.
  const std::map<Seq, std::map<ReplicaId, wire::Checkpoint>>& checkpoint_votes() const {
    return checkpoint_votes_;
  }
  size_t target_view_change_votes() const { return target_view_changes_.size(); }
  const std::map<ReplicaId, PeerReport>& peer_reports() const { return peer_reports_; }
  // This replica's snapshot at a checkpoint it still keeps (for serving
  // state transfer to peers).
  const OwnCheckpoint* checkpoint_at(Seq seq) const;
  // The digest of a batch, as carried in pre-prepares.
  Digest batch_digest(const std::vector<wire::Request>& batch) const;
  // A human-readable one-line summary for traces.
  std::string describe() const;

 private:
  // requests.cc
  // Where a request came from. A gateway's requests reach each replica
  // over the gateway replica's authenticated link (or from the host, for
  // its own gateway): that authenticates them as well as their signature
  // would, for one MAC instead of a signature check.
  enum class Source {
    client,          // receive_request: checked, relayed to the primary
    checked_client,  // receive_checked_request: checked by the host, relayed to the primary
    own_gateway,     // receive_own_request: trusted, not relayed
    gateway_link,    // from the replica whose gateway owns the client id: trusted, not relayed
    relayed,         // passed on by another replica: checked, not answered
  };
  void handle_request(const wire::Request& request, Source source);
  void propose_batches();
  void propose_now();
  void propose_from_queue();
  // The request's signature is its client's.
  bool client_signed(const wire::Request& request) const;
  void add_pending(const wire::Request& request);
  void forget_executed_pending();
  // The read-only fast path (Castro & Liskov 5.1.3): a read answered from
  // the executed state, not ordered; the client needs matching answers
  // from every replica (node/gateway.h says why) and falls back to an
  // ordered read otherwise. Signed when asked for, over
  // fast_reply_signing_bytes (clients that have no authenticated link to
  // the replica, such as the client library, need it).
  void answer_read_only(const wire::Request& request);
  // The reply to (client, timestamp), executed at `seq`; signed when the
  // request asked for it (Request::flag_signed_reply).
  wire::Reply make_reply(ClientId client, uint64_t timestamp, Seq seq, const Digest& operation,
                         Bytes result, bool sign) const;

  // normal_case.cc
  void on_pre_prepare(const wire::PrePrepare& m);
  void on_prepare(const wire::Prepare& m);
  void on_commit(ReplicaId from, const wire::Commit& m);
  bool in_window(Seq seq) const { return seq > d_.stable_seq && seq <= d_.stable_seq + config_.window_size; }
  bool admits(View view, Seq seq);
  bool valid_pre_prepare(const wire::PrePrepare& m, bool check_batch);
  void accept_pre_prepare(const wire::PrePrepare& m);
  void check_prepared(Seq seq);
  void check_committed(Seq seq);
  void execute_committed();
  void execute_batch(Seq seq, const Slot& slot);

  // checkpoints.cc
  void take_checkpoint();
  void on_checkpoint(const wire::Checkpoint& m);
  bool valid_checkpoint_cert(const std::vector<wire::Checkpoint>& cert, Seq* seq, Digest* digest);
  void on_stable_certificate(const std::vector<wire::Checkpoint>& cert);
  void adopt_certificate(Seq seq, const Digest& digest, const std::vector<wire::Checkpoint>& cert);
  void advance_stable(Seq seq, const Digest& digest, std::vector<wire::Checkpoint> cert);
  void start_fetch(Seq seq, const Digest& digest, const std::vector<wire::Checkpoint>& cert);
  void garbage_collect();
  Bytes make_snapshot(Seq seq);

  // view_change.cc
  void start_view_change(View new_view);
  wire::ViewChange make_view_change(View new_view);
  bool valid_view_change(const wire::ViewChange& m);
  bool valid_prepared_cert(const wire::PreparedCert& c, View before_view);
  void on_view_change(const wire::ViewChange& m);
  void on_view_change_quorum();
  void send_new_view();
  void on_new_view(const wire::NewView& m);
  // The pre-prepares a NEW-VIEW for `view` must hold given these view
  // changes, with their batches filled in; also the checkpoint to start
  // from.
  struct NewViewPlan {
    Seq min_s = 0;
    std::vector<wire::Checkpoint> checkpoint_cert;  // certifies min_s (empty at 0)
    std::vector<wire::PrePrepare> pre_prepares;
  };
  NewViewPlan plan_new_view(View view, const std::vector<wire::ViewChange>& vcs);
  void enter_view(const wire::NewView& m, const NewViewPlan& plan);
  void join_higher_views();
  void join_lonely_view_change();
  // A suspicion of the primary: ask the others for a view change to
  // `target` and keep working in this view until q replicas ask (false:
  // asked already, or not in an active view).
  bool ask_view_change(View target);
  void count_view_change_asks();

  // status.cc
  void send_status();
  void on_status(ReplicaId from, const wire::Status& m);

  // timers
  void restart_request_timer();
  void stop_request_timer();
  void check_primary_speed();
  uint64_t view_change_timeout() const;

  template <typename M>
  M signed_copy(M m) const;
  // After handling `message` from `from`: a signature check failed on a
  // message `from` signed itself, so mute it (Config::mute_faulty_peer_ticks).
  void mute_if_caught(ReplicaId from, const wire::Message& message, uint64_t bad_signatures_before);
  void send(ReplicaId to, wire::Message m);
  void broadcast(wire::Message m);
  void persist() { out_.persist = true; }
  uint32_t q() const { return quorum_.q; }

  Config config_;
  Quorum quorum_;
  ReplicaId id_;
  const crypto::Crypto& crypto_;
  StateMachine& sm_;
  DurableState d_;

  // Volatile state: lost on a crash, rebuilt from peers.
  uint64_t now_ = 0;
  Output out_;
  RejectCounts rejected_;
  std::map<ClientId, wire::Request> pending_;        // known, not yet executed
  // Entries of pending_ whose signature nobody here checked (vouched for by
  // their gateway's link, or taken from an accepted batch): checked before
  // this replica, as primary, proposes them.
  std::set<ClientId> unchecked_;
  // Bundle roots whose signatures checked (core/request_bundle.h): the
  // other requests of a bundle cost no signature check.
  mutable VerifiedBundles verified_bundles_;
  // Backups: requests from a gateway's link not yet in a pre-prepare
  // (Config::proposal_timeout_ticks).
  struct Awaiting {
    uint64_t since = 0;      // tick it arrived, or was passed on to the primary
    bool passed_on = false;  // sent to the primary once already
  };
  std::map<ClientId, Awaiting> awaiting_proposal_;
  // When a backup last passed a client's resent request on to the primary:
  // at most once per proposal_timeout_ticks, so that replays of a waiting
  // request do not make every backup flood the primary with it.
  std::map<ClientId, uint64_t> passed_on_at_;
  uint64_t slow_primary_view_changes_ = 0;
  uint64_t mutes_ = 0;
  std::deque<std::pair<ClientId, uint64_t>> queue_;  // primary: arrival order
  std::set<std::pair<ClientId, uint64_t>> proposed_; // in a pre-prepare of this view
  std::map<Seq, std::map<ReplicaId, wire::Checkpoint>> checkpoint_votes_;
  std::map<ReplicaId, wire::ViewChange> view_changes_;  // latest valid one from each replica
  // The view change each peer's latest STATUS asks for (or the view it is
  // changing to); asks at or below d_.view are spent.
  std::map<ReplicaId, View> peer_asks_;
  // While changing to d_.view: the valid view changes for exactly that view.
  // Kept even when their sender has since asked for a later view, so that a
  // quorum for this view is not lost to a replica that moved on.
  std::map<ReplicaId, wire::ViewChange> target_view_changes_;
  std::optional<uint64_t> request_deadline_;   // view change when it passes
  std::optional<uint64_t> view_change_deadline_;  // next view when NEW-VIEW is late
  // While changing views without a quorum for the target view: when this
  // passes and a peer's latest view change is for a later view, follow it
  // (join_lonely_view_change).
  std::optional<uint64_t> lonely_deadline_;
  uint32_t backoff_ = 0;                       // failed view changes in a row
  bool proposing_ = false;
  bool propose_asked_ = false;  // Output::propose given, propose() not yet called
  bool awaiting_persist_ = false;  // stopped at a checkpoint until the host persists
  uint64_t next_status_ = 0;
  std::optional<FetchState> fetching_;
  std::vector<wire::Checkpoint> fetch_cert_;  // certifies fetching_
  uint64_t fetch_deadline_ = 0;
  std::map<ReplicaId, PeerReport> peer_reports_;
  std::map<ReplicaId, uint64_t> muted_until_;  // tick
};

}  // namespace pbft::core
