// The byte encodings of ReplicaStore's records (see replica_store.h for the
// key layout). Decoders are strict: a truncated record, trailing bytes, a
// bad frame or a message of the wrong type all fail.
#pragma once

#include <string>

#include "common/types.h"
#include "core/replica.h"

namespace pbft::storage::records {

// The first byte of "p/meta". Bump it when any record's encoding changes,
// the wire's frame version included (records hold frames); load() refuses
// versions it does not know rather than misread them.
// 2: frame version 3; "p/meta" holds asked_view.
inline constexpr uint8_t format_version = 2;

// "p/meta": the scalars of DurableState (view, view_active, stable seq and
// digest, last_executed, last_proposed, asked_view), which change with
// every batch.
std::string encode_meta(const core::DurableState& d);
// Sets those fields of `d`; false when malformed (the version is checked
// by the caller).
bool decode_meta(ByteView in, core::DurableState& d);
// Whether a and b agree on everything "p/meta" holds.
bool same_meta(const core::DurableState& a, const core::DurableState& b);

// "p/certs": new_view, view_change and stable_cert, which change only with
// views and stable checkpoints (and can be large).
std::string encode_certificates(const core::DurableState& d);
bool decode_certificates(ByteView in, core::DurableState& d);
bool same_certificates(const core::DurableState& a, const core::DurableState& b);

// "p/slot": a slot's flags and votes, without its pre-prepare, which is in
// "p/pp" (a batch can be megabytes; votes arrive one by one and must not
// rewrite it). decode() leaves an empty placeholder pre-prepare when the
// flags say there is one.
std::string encode(const core::Slot& slot);
bool same_votes(const core::Slot& a, const core::Slot& b);
std::string encode(const wire::PrePrepare& pre_prepare);
bool decode(ByteView in, wire::PrePrepare& pre_prepare);
std::string encode(const wire::PreparedCert& cert);
std::string encode(const Digest& digest);
std::string encode(const core::OwnCheckpoint& checkpoint);
std::string encode(const core::ClientTable::Entry& entry);

bool decode(ByteView in, core::Slot& slot);
bool decode(ByteView in, wire::PreparedCert& cert);
bool decode(ByteView in, Digest& digest);
bool decode(ByteView in, core::OwnCheckpoint& checkpoint);
bool decode(ByteView in, core::ClientTable::Entry& entry);

}  // namespace pbft::storage::records
