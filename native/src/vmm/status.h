// The VMM's report to its parent: one JSON object per line on the status fd
// ("ready" once the guest is about to run, "exit" with the reason last).
// JSON because the parent is Node; one line each so a reader needs no parser
// state beyond splitting on '\n'.
#pragma once
#include <string>

namespace vmstep {

// A JSON string literal for arbitrary bytes (guest console output included).
std::string JsonString(const std::string& s);
// Writes line + '\n' in one write(2), so lines never interleave.
void WriteStatusLine(int fd, const std::string& json);

}  // namespace vmstep
