/* Runs inside a real Linux guest (test/e2e/vm-linux.test.ts): connects to
   the host over vsock, sends BYTES of a seeded xorshift64 stream, half-closes,
   then reads the host's stream to EOF and prints its length and 32-bit
   FNV-1a hash (cheap to recompute in JavaScript, enough to catch corruption).
   The host regenerates both streams to check them byte for byte.
   usage: vsock-stream PORT BYTES SEED */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static uint32_t next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: vsock-stream PORT BYTES SEED\n");
    return 2;
  }
  unsigned port = (unsigned)strtoul(argv[1], 0, 10);
  uint64_t bytes = strtoull(argv[2], 0, 10);
  uint32_t seed = (uint32_t)strtoul(argv[3], 0, 10);
  int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
  struct sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port};
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("vsock connect");
    return 1;
  }
  static uint8_t buf[65536];
  uint64_t sent = 0;
  while (sent < bytes) {
    size_t n = sizeof buf;
    if (n > bytes - sent) n = (size_t)(bytes - sent);
    for (size_t i = 0; i < n; i += 4) {
      uint32_t v = next(&seed);
      memcpy(buf + i, &v, n - i < 4 ? n - i : 4);
    }
    for (size_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, n - off);
      if (w <= 0) {
        perror("vsock write");
        return 1;
      }
      off += (size_t)w;
    }
    sent += n;
  }
  shutdown(fd, SHUT_WR);
  uint64_t got = 0;
  uint32_t hash = 0x811c9dc5u;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) {
      perror("vsock read");
      return 1;
    }
    if (r == 0) break;
    for (ssize_t i = 0; i < r; i++) hash = (hash ^ buf[i]) * 0x01000193u;
    got += (uint64_t)r;
  }
  close(fd);
  printf("sent=%llu received=%llu fnv=%08x\n", (unsigned long long)sent, (unsigned long long)got, hash);
  return 0;
}
