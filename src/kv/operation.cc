#include "kv/operation.h"

#include <utility>

#include "common/byte_io.h"

namespace pbft::kv {

using byte_io::Reader;

Bytes encode_operation(const Operation& op) {
  Bytes out;
  out.reserve(1 + 4 + op.request_id.size() + 4 + op.key.size() +
              (op.kind == OpKind::put ? 4 + op.value.size() : 0));
  byte_io::put_u8(out, static_cast<uint8_t>(op.kind));
  byte_io::put_string(out, op.request_id);
  byte_io::put_string(out, op.key);
  // Only a put carries a value; a get or del's `value` is not encoded.
  if (op.kind == OpKind::put) byte_io::put_string(out, op.value);
  return out;
}

std::optional<Operation> decode_operation(ByteView bytes) {
  Reader in(bytes);
  auto kind = in.u8();
  if (!kind) return std::nullopt;
  Operation op;
  switch (*kind) {
    case static_cast<uint8_t>(OpKind::get):
    case static_cast<uint8_t>(OpKind::put):
    case static_cast<uint8_t>(OpKind::del):
      op.kind = static_cast<OpKind>(*kind);
      break;
    default:
      return std::nullopt;
  }
  auto request_id = in.string(request_id_bytes_max);
  if (!request_id) return std::nullopt;
  op.request_id = std::move(*request_id);
  auto key = in.string(key_bytes_max);
  if (!key) return std::nullopt;
  op.key = std::move(*key);
  if (op.kind == OpKind::put) {
    auto value = in.string(value_bytes_max);
    if (!value) return std::nullopt;
    op.value = std::move(*value);
  }
  if (!in.at_end()) return std::nullopt;
  return op;
}

// Result: u8 status, u64 sequence; then, only for an ok result that carries
// a value (a get that found its key), the u32-length-prefixed value. Whether
// a value follows is told by whether any bytes follow, so "ok, no value" (9
// bytes) and "ok, empty value" (13 bytes) stay distinct and
// decode(encode(r)) == r.
Bytes encode_result(const Result& r) {
  PBFT_ASSERT(!r.value.has_value() || r.status == ResultStatus::ok,
              "only an ok result carries a value");
  Bytes out;
  out.reserve(1 + 8 + (r.value ? 4 + r.value->size() : 0));
  byte_io::put_u8(out, static_cast<uint8_t>(r.status));
  byte_io::put_u64(out, r.sequence);
  if (r.value) byte_io::put_string(out, *r.value);
  return out;
}

std::optional<Result> decode_result(ByteView bytes) {
  Reader in(bytes);
  auto status = in.u8();
  if (!status) return std::nullopt;
  Result r;
  switch (*status) {
    case static_cast<uint8_t>(ResultStatus::ok):
    case static_cast<uint8_t>(ResultStatus::not_found):
    case static_cast<uint8_t>(ResultStatus::bad_operation):
    case static_cast<uint8_t>(ResultStatus::conflict):
      r.status = static_cast<ResultStatus>(*status);
      break;
    default:
      return std::nullopt;
  }
  auto sequence = in.u64();
  if (!sequence) return std::nullopt;
  r.sequence = *sequence;
  if (!in.at_end()) {
    if (r.status != ResultStatus::ok) return std::nullopt;
    auto value = in.string(value_bytes_max);
    if (!value) return std::nullopt;
    r.value = std::move(*value);
    if (!in.at_end()) return std::nullopt;
  }
  return r;
}

uint64_t operation_fingerprint(const Operation& op) {
  Operation anonymous = op;
  anonymous.request_id.clear();
  return byte_io::fnv1a_64(encode_operation(anonymous));
}

}  // namespace pbft::kv
