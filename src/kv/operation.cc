#include "kv/operation.h"

#include <utility>

#include "common/assert.h"
#include "common/byte_io.h"

namespace pbft::kv {

using byte_io::Reader;

namespace {

bool is_txn_kind(OpKind kind) { return kind == OpKind::get || kind == OpKind::put || kind == OpKind::del; }

void put_txn_ops(Bytes& out, const std::vector<TxnOp>& ops) {
  byte_io::put_u32(out, static_cast<uint32_t>(ops.size()));
  for (const TxnOp& t : ops) {
    PBFT_ASSERT(is_txn_kind(t.kind), "a transaction holds get, put and del only");
    byte_io::put_u8(out, static_cast<uint8_t>(t.kind));
    byte_io::put_string(out, t.key);
    if (t.kind == OpKind::put) byte_io::put_string(out, t.value);
  }
}

bool read_txn_ops(Reader& in, std::vector<TxnOp>& ops) {
  auto count = in.u32();
  if (!count || *count > txn_ops_max) return false;
  for (uint32_t i = 0; i < *count; ++i) {
    auto kind = in.u8();
    if (!kind || *kind < 1 || *kind > 3) return false;
    TxnOp t;
    t.kind = static_cast<OpKind>(*kind);
    auto key = in.string(key_bytes_max);
    if (!key) return false;
    t.key = std::move(*key);
    if (t.kind == OpKind::put) {
      auto value = in.string(value_bytes_max);
      if (!value) return false;
      t.value = std::move(*value);
    }
    ops.push_back(std::move(t));
  }
  return true;
}

}  // namespace

Bytes encode_operation(const Operation& op) {
  Bytes out;
  out.reserve(1 + 4 + op.request_id.size() + 4 + op.key.size() +
              (op.kind == OpKind::put || op.kind == OpKind::cas ? 4 + op.value.size() : 0));
  byte_io::put_u8(out, static_cast<uint8_t>(op.kind));
  byte_io::put_string(out, op.request_id);
  if (op.kind == OpKind::txn) {
    PBFT_ASSERT(op.compares.size() <= txn_compares_max && op.success.size() <= txn_ops_max &&
                    op.failure.size() <= txn_ops_max,
                "transactions stay within their bounds");
    byte_io::put_u32(out, static_cast<uint32_t>(op.compares.size()));
    for (const Compare& c : op.compares) {
      byte_io::put_u8(out, static_cast<uint8_t>(c.target));
      byte_io::put_string(out, c.key);
      if (c.target == CompareTarget::value) byte_io::put_string(out, c.value);
      if (c.target == CompareTarget::revision) byte_io::put_u64(out, c.revision);
    }
    put_txn_ops(out, op.success);
    put_txn_ops(out, op.failure);
    return out;
  }
  byte_io::put_string(out, op.key);
  switch (op.kind) {
    case OpKind::put:
      byte_io::put_string(out, op.value);
      break;
    case OpKind::range:
      byte_io::put_string(out, op.range_end);
      byte_io::put_u32(out, op.limit);
      break;
    case OpKind::cas:
      byte_io::put_u8(out, op.expected ? 1 : 0);
      if (op.expected) byte_io::put_string(out, *op.expected);
      byte_io::put_string(out, op.value);
      break;
    case OpKind::get:
    case OpKind::del:
    case OpKind::txn:
      break;  // a get or del's `value` is not encoded
  }
  return out;
}

std::optional<Operation> decode_operation(ByteView bytes) {
  Reader in(bytes);
  auto kind = in.u8();
  if (!kind || *kind < 1 || *kind > 6) return std::nullopt;
  Operation op;
  op.kind = static_cast<OpKind>(*kind);
  auto request_id = in.string(request_id_bytes_max);
  if (!request_id) return std::nullopt;
  op.request_id = std::move(*request_id);
  if (op.kind == OpKind::txn) {
    auto compares = in.u32();
    if (!compares || *compares > txn_compares_max) return std::nullopt;
    for (uint32_t i = 0; i < *compares; ++i) {
      auto target = in.u8();
      if (!target || *target < 1 || *target > 3) return std::nullopt;
      Compare c;
      c.target = static_cast<CompareTarget>(*target);
      auto key = in.string(key_bytes_max);
      if (!key) return std::nullopt;
      c.key = std::move(*key);
      if (c.target == CompareTarget::value) {
        auto value = in.string(value_bytes_max);
        if (!value) return std::nullopt;
        c.value = std::move(*value);
      } else if (c.target == CompareTarget::revision) {
        auto revision = in.u64();
        if (!revision) return std::nullopt;
        c.revision = *revision;
      }
      op.compares.push_back(std::move(c));
    }
    if (!read_txn_ops(in, op.success) || !read_txn_ops(in, op.failure)) return std::nullopt;
    if (!in.at_end()) return std::nullopt;
    return op;
  }
  auto key = in.string(key_bytes_max);
  if (!key) return std::nullopt;
  op.key = std::move(*key);
  switch (op.kind) {
    case OpKind::put: {
      auto value = in.string(value_bytes_max);
      if (!value) return std::nullopt;
      op.value = std::move(*value);
      break;
    }
    case OpKind::range: {
      auto end = in.string(key_bytes_max);
      auto limit = end ? in.u32() : std::nullopt;
      if (!limit || *limit == 0 || *limit > range_limit_max) return std::nullopt;
      op.range_end = std::move(*end);
      op.limit = *limit;
      break;
    }
    case OpKind::cas: {
      auto expect = in.u8();
      if (!expect || *expect > 1) return std::nullopt;
      if (*expect == 1) {
        auto expected = in.string(value_bytes_max);
        if (!expected) return std::nullopt;
        op.expected = std::move(*expected);
      }
      auto value = in.string(value_bytes_max);
      if (!value) return std::nullopt;
      op.value = std::move(*value);
      break;
    }
    case OpKind::get:
    case OpKind::del:
    case OpKind::txn:
      break;
  }
  if (!in.at_end()) return std::nullopt;
  return op;
}

namespace {

void put_result(Bytes& out, const Result& r) {
  byte_io::put_u8(out, static_cast<uint8_t>(static_cast<uint8_t>(r.status) | static_cast<uint8_t>(r.form) << 4));
  byte_io::put_u64(out, r.sequence);
  switch (r.form) {
    case ResultForm::plain:
      PBFT_ASSERT(!r.value.has_value() || r.status == ResultStatus::ok, "only an ok plain result carries a value");
      if (r.value) byte_io::put_string(out, *r.value);
      break;
    case ResultForm::record:
      byte_io::put_u8(out, r.value ? 1 : 0);
      if (r.value) byte_io::put_string(out, *r.value);
      byte_io::put_u64(out, r.revision);
      break;
    case ResultForm::range:
      byte_io::put_u32(out, static_cast<uint32_t>(r.entries.size()));
      for (const Entry& e : r.entries) {
        byte_io::put_string(out, e.key);
        byte_io::put_string(out, e.value);
        byte_io::put_u64(out, e.revision);
      }
      byte_io::put_u8(out, r.next ? 1 : 0);
      if (r.next) byte_io::put_string(out, *r.next);
      break;
    case ResultForm::txn:
      byte_io::put_u8(out, r.succeeded ? 1 : 0);
      byte_io::put_u32(out, static_cast<uint32_t>(r.responses.size()));
      for (const Result& sub : r.responses) {
        PBFT_ASSERT(sub.form == ResultForm::plain || sub.form == ResultForm::record,
                    "a transaction answers with plain and record results");
        Bytes b;
        put_result(b, sub);
        byte_io::put_u32(out, static_cast<uint32_t>(b.size()));
        out.insert(out.end(), b.begin(), b.end());
      }
      break;
  }
}

std::optional<Result> read_result(ByteView bytes, bool nested) {
  Reader in(bytes);
  auto head = in.u8();
  if (!head) return std::nullopt;
  const uint8_t status = *head & 0x0f, form = *head >> 4;
  if (status > static_cast<uint8_t>(ResultStatus::too_large) || form > static_cast<uint8_t>(ResultForm::txn))
    return std::nullopt;
  Result r;
  r.status = static_cast<ResultStatus>(status);
  r.form = static_cast<ResultForm>(form);
  if (nested && r.form != ResultForm::plain && r.form != ResultForm::record) return std::nullopt;
  auto sequence = in.u64();
  if (!sequence) return std::nullopt;
  r.sequence = *sequence;
  switch (r.form) {
    case ResultForm::plain:
      if (!in.at_end()) {
        if (r.status != ResultStatus::ok) return std::nullopt;
        auto value = in.string(value_bytes_max);
        if (!value) return std::nullopt;
        r.value = std::move(*value);
      }
      break;
    case ResultForm::record: {
      auto has_value = in.u8();
      if (!has_value || *has_value > 1) return std::nullopt;
      if (*has_value == 1) {
        auto value = in.string(value_bytes_max);
        if (!value) return std::nullopt;
        r.value = std::move(*value);
      }
      auto revision = in.u64();
      if (!revision) return std::nullopt;
      r.revision = *revision;
      break;
    }
    case ResultForm::range: {
      auto count = in.u32();
      if (!count || *count > range_limit_max) return std::nullopt;
      for (uint32_t i = 0; i < *count; ++i) {
        auto key = in.string(key_bytes_max);
        auto value = key ? in.string(value_bytes_max) : std::nullopt;
        auto revision = value ? in.u64() : std::nullopt;
        if (!revision) return std::nullopt;
        r.entries.push_back(Entry{std::move(*key), std::move(*value), *revision});
      }
      auto has_next = in.u8();
      if (!has_next || *has_next > 1) return std::nullopt;
      if (*has_next == 1) {
        auto next = in.string(key_bytes_max);
        if (!next) return std::nullopt;
        r.next = std::move(*next);
      }
      break;
    }
    case ResultForm::txn: {
      auto succeeded = in.u8();
      if (!succeeded || *succeeded > 1) return std::nullopt;
      r.succeeded = *succeeded == 1;
      auto count = in.u32();
      if (!count || *count > txn_ops_max) return std::nullopt;
      for (uint32_t i = 0; i < *count; ++i) {
        auto sub = in.bytes(result_bytes_max);
        if (!sub) return std::nullopt;
        auto decoded = read_result(*sub, true);
        if (!decoded) return std::nullopt;
        r.responses.push_back(std::move(*decoded));
      }
      break;
    }
  }
  if (!in.at_end()) return std::nullopt;
  return r;
}

}  // namespace

Bytes encode_result(const Result& r) {
  Bytes out;
  out.reserve(1 + 8 + (r.value ? 4 + r.value->size() : 0) + 9);
  put_result(out, r);
  return out;
}

std::optional<Result> decode_result(ByteView bytes) {
  if (bytes.size() > result_bytes_max) return std::nullopt;
  return read_result(bytes, false);
}

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

uint64_t operation_fingerprint(const Operation& op) {
  Operation anonymous = op;
  anonymous.request_id.clear();
  return byte_io::fnv1a_64(encode_operation(anonymous));
}

}  // namespace pbft::kv
