#include "vmm/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/error.h"

namespace vmstep {

EventLoop::EventLoop() : epoll_(epoll_create1(EPOLL_CLOEXEC)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_.valid() || !wake_.valid()) throw SystemError("creating the event loop");
  Add(wake_.get(), EPOLLIN, [this](uint32_t) {
    uint64_t v;
    (void)!read(wake_.get(), &v, sizeof v);
  });
}

void EventLoop::Add(int fd, uint32_t events, Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t gen = next_generation_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (uint64_t(gen) << 32) | uint32_t(fd);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw SystemError("epoll_ctl ADD");
  entries_[fd] = Entry{gen, std::make_shared<Handler>(std::move(handler))};
}

void EventLoop::Modify(int fd, uint32_t events) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(fd);
  if (it == entries_.end()) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = (uint64_t(it->second.generation) << 32) | uint32_t(fd);
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev);
}

void EventLoop::Remove(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.erase(fd) > 0) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::Stop() {
  stopped_ = true;
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
}

void EventLoop::Run() {
  epoll_event events[64];
  while (!stopped_) {
    int n = epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError("epoll_wait");
    }
    for (int i = 0; i < n && !stopped_; i++) {
      int fd = static_cast<int>(events[i].data.u64 & 0xffffffffu);
      uint32_t gen = static_cast<uint32_t>(events[i].data.u64 >> 32);
      // Hold a reference: the handler may remove itself. The lock is not
      // held while it runs, so that it can add and remove descriptors.
      std::shared_ptr<Handler> h;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = entries_.find(fd);
        if (it == entries_.end() || it->second.generation != gen) continue;
        h = it->second.handler;
      }
      (*h)(events[i].events);
    }
  }
}

}  // namespace vmstep
