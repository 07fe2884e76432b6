#include "devices/console.h"

#include <unistd.h>

namespace vmstep {

void ConsoleSink::Put(char c) {
  std::lock_guard<std::mutex> lock(mu_);
  ring_[written_ % kRingBytes] = c;
  written_++;
  if (log_fd_ < 0) return;
  pending_.push_back(c);
  // Whole lines reach the log promptly; a partial line waits for the next one.
  if (c == '\n' || pending_.size() >= 4096) FlushLocked();
}

void ConsoleSink::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  FlushLocked();
}

void ConsoleSink::FlushLocked() {
  size_t off = 0;
  while (log_fd_ >= 0 && off < pending_.size()) {
    ssize_t n = write(log_fd_, pending_.data() + off, pending_.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a broken log must not stop the guest
    off += static_cast<size_t>(n);
  }
  pending_.clear();
}

std::string ConsoleSink::Tail(size_t max) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t have = written_ < kRingBytes ? written_ : kRingBytes;
  size_t n = have < max ? have : max;
  std::string out;
  out.reserve(n);
  for (size_t i = written_ - n; i < written_; i++) out.push_back(ring_[i % kRingBytes]);
  return out;
}

}  // namespace vmstep
