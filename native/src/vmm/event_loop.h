// The VMM's one I/O thread: an epoll loop over the vsock sockets, the
// queue-notify ioeventfds, the timeout timer and the stop signals. Handlers
// may add and remove descriptors while it runs, and so may other threads (a
// vCPU thread resetting a device removes its sockets); a handler is never
// called for a descriptor removed earlier in the same batch.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "util/fd.h"

namespace vmstep {

class EventLoop {
 public:
  using Handler = std::function<void(uint32_t events)>;
  EventLoop();
  void Add(int fd, uint32_t events, Handler handler);
  void Modify(int fd, uint32_t events);
  void Remove(int fd);
  // Runs handlers until Stop() is called (from a handler or another thread).
  void Run();
  void Stop();

 private:
  struct Entry {
    uint32_t generation;
    std::shared_ptr<Handler> handler;
  };
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd that Stop() writes
  std::mutex mu_;  // guards entries_ and next_generation_, never held while a handler runs
  std::unordered_map<int, Entry> entries_;
  uint32_t next_generation_ = 1;
  std::atomic<bool> stopped_{false};
};

}  // namespace vmstep
