// Where the guest's serial output goes: always into a small ring buffer (so
// that a panic can be reported with the console's last lines), and into a
// log file only when the caller asked for one (debugging: every byte costs
// the guest a VM exit, so the console is kept quiet otherwise).
#pragma once
#include <cstddef>
#include <mutex>
#include <string>

namespace vmstep {

class ConsoleSink {
 public:
  static constexpr size_t kRingBytes = 16384;
  explicit ConsoleSink(int log_fd = -1) : log_fd_(log_fd) {}
  void SetLogFd(int fd) { log_fd_ = fd; }
  void Put(char c);
  void Flush();
  // The last `max` bytes written, oldest first.
  std::string Tail(size_t max = kRingBytes) const;

 private:
  void FlushLocked();
  mutable std::mutex mu_;
  char ring_[kRingBytes];
  size_t written_ = 0;  // total bytes ever written
  int log_fd_;
  std::string pending_;  // bytes not yet in the log file
};

}  // namespace vmstep
