// One exception type for set-up failures: the message says what failed and,
// where the VMM can tell, what to do about it.
#pragma once
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace vmstep {

class VmmError : public std::runtime_error {
 public:
  explicit VmmError(const std::string& message) : std::runtime_error(message) {}
};

// "what: strerror(errno)" for a failed system call.
inline VmmError SystemError(const std::string& what, int err = errno) {
  return VmmError(what + ": " + std::strerror(err));
}

}  // namespace vmstep
