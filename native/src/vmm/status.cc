#include "vmm/status.h"

#include <unistd.h>

#include <cstdio>

namespace vmstep {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);  // bytes >= 0x80 pass through; Node decodes UTF-8 leniently
    }
  }
  out += '"';
  return out;
}

void WriteStatusLine(int fd, const std::string& json) {
  if (fd < 0) return;
  std::string line = json + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(fd, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

std::string ReadyJson(const ReadyStatus& s) {
  std::string json = "{\"event\":\"ready\",\"setupMicros\":" + std::to_string(s.setup_micros) + ",\"cmdline\":" + JsonString(s.cmdline);
  if (s.pin_requested && !s.pin_error.empty()) {
    json += ",\"pinError\":" + JsonString(s.pin_error);
  } else if (s.pin_requested) {
    std::string list;
    for (int cpu : s.pinned_cpus) list += (list.empty() ? "" : ",") + std::to_string(cpu);
    json += ",\"pinnedCpus\":[" + list + "]";
  }
  return json + "}";
}

std::string ExitJson(const std::string& reason, const std::string& detail, const std::string& console_tail) {
  return "{\"event\":\"exit\",\"reason\":" + JsonString(reason) + ",\"detail\":" + JsonString(detail) +
         ",\"consoleTail\":" + JsonString(console_tail) + "}";
}

std::string ProbeJson(bool available, bool can_run_linux, const std::string& reason, const std::string& module) {
  return std::string("{\"available\":") + (available ? "true" : "false") + ",\"canRunLinux\":" + (can_run_linux ? "true" : "false") +
         ",\"reason\":" + JsonString(reason) + ",\"module\":" + JsonString(module) + "}";
}

}  // namespace vmstep
