#include "storage/sync_thread.h"

#include <chrono>

#include "common/assert.h"

namespace pbft::storage {

SyncThread::SyncThread(Storage& storage, Synced synced, Failed failed)
    : storage_(storage), synced_(std::move(synced)), failed_(std::move(failed)), thread_([this] { run(); }) {}

SyncThread::~SyncThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void SyncThread::request(uint64_t generation) {
  {
    std::lock_guard lock(mutex_);
    PBFT_ASSERT(generation > requested_, "write generations only grow");
    requested_ = generation;
  }
  wake_.notify_one();
}

void SyncThread::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || (requested_ > started_ && !failed_once_); });
    if (stopping_) return;
    const uint64_t target = requested_;
    started_ = target;
    lock.unlock();
    const auto began = std::chrono::steady_clock::now();
    try {
      storage_.sync();
    } catch (const StorageError& e) {
      lock.lock();
      failed_once_ = true;  // a sync that failed once proves nothing later
      lock.unlock();
      failed_(e.what());
      lock.lock();
      continue;
    }
    synced_(target, std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    lock.lock();
  }
}

}  // namespace pbft::storage
