#include "wire/messages.h"

#include <type_traits>

namespace pbft::wire {

MessageType type_of(const Message& m) {
  return std::visit(
      [](const auto& v) -> MessageType {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Request>) return MessageType::request;
        else if constexpr (std::is_same_v<T, PrePrepare>) return MessageType::pre_prepare;
        else if constexpr (std::is_same_v<T, Prepare>) return MessageType::prepare;
        else if constexpr (std::is_same_v<T, Commit>) return MessageType::commit;
        else if constexpr (std::is_same_v<T, Checkpoint>) return MessageType::checkpoint;
        else if constexpr (std::is_same_v<T, ViewChange>) return MessageType::view_change;
        else if constexpr (std::is_same_v<T, NewView>) return MessageType::new_view;
        else if constexpr (std::is_same_v<T, Reply>) return MessageType::reply;
        else if constexpr (std::is_same_v<T, Status>) return MessageType::status;
        else if constexpr (std::is_same_v<T, StableCheckpoint>) return MessageType::stable_checkpoint;
        else if constexpr (std::is_same_v<T, StateRequest>) return MessageType::state_request;
        else if constexpr (std::is_same_v<T, StateReply>) return MessageType::state_reply;
        else static_assert(sizeof(T) == 0, "message type without a MessageType");
      },
      m);
}

std::string_view type_name(MessageType t) {
  switch (t) {
    case MessageType::request: return "request";
    case MessageType::pre_prepare: return "pre-prepare";
    case MessageType::prepare: return "prepare";
    case MessageType::commit: return "commit";
    case MessageType::checkpoint: return "checkpoint";
    case MessageType::view_change: return "view-change";
    case MessageType::new_view: return "new-view";
    case MessageType::reply: return "reply";
    case MessageType::status: return "status";
    case MessageType::stable_checkpoint: return "stable-checkpoint";
    case MessageType::state_request: return "state-request";
    case MessageType::state_reply: return "state-reply";
  }
  return "unknown";
}

}  // namespace pbft::wire
