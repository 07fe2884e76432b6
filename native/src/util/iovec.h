// Byte ranges over scatter-gather lists (iovecs into guest memory): a disk
// request split by where its bytes live, a vsock payload partly sent.
#pragma once
#include <sys/uio.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace vmstep {

inline uint64_t IovecBytes(const std::vector<iovec>& iov) {
  uint64_t n = 0;
  for (const iovec& v : iov) n += v.iov_len;
  return n;
}

// The bytes [from, from + len) of what `iov` covers, as iovecs.
inline std::vector<iovec> SliceIovecs(const std::vector<iovec>& iov, uint64_t from, uint64_t len) {
  std::vector<iovec> out;
  for (const iovec& v : iov) {
    if (len == 0) break;
    if (from >= v.iov_len) {
      from -= v.iov_len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(v.iov_len - from, len);
    out.push_back({static_cast<uint8_t*>(v.iov_base) + from, static_cast<size_t>(n)});
    from = 0;
    len -= n;
  }
  return out;
}

inline void ZeroIovecs(const std::vector<iovec>& iov) {
  for (const iovec& v : iov) std::memset(v.iov_base, 0, v.iov_len);
}

// Copies what `iov` covers to `out`, appending.
inline void AppendIovecs(const std::vector<iovec>& iov, std::vector<uint8_t>* out) {
  for (const iovec& v : iov) out->insert(out->end(), static_cast<uint8_t*>(v.iov_base), static_cast<uint8_t*>(v.iov_base) + v.iov_len);
}

}  // namespace vmstep
