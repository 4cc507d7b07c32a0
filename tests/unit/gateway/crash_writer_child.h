// The crash-test child (tests/tools/crash_writer.cc), started with its standard
// output on a pipe that the test reads line by line, and killed by the test.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace kiseki::gateway {

struct CrashWriter {
  pid_t pid = -1;
  FILE* out = nullptr;  // the child's standard output
};

// Runs KISEKI_CRASH_WRITER with `args` (and `env` added to its environment);
// pid -1 if it could not be started.
inline CrashWriter spawn_crash_writer(const std::vector<std::string>& args,
                                      const std::vector<std::pair<std::string, std::string>>& env = {}) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid < 0) return {};
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv = {const_cast<char*>(KISEKI_CRASH_WRITER)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(KISEKI_CRASH_WRITER, argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fdopen(fds[0], "r")};
}

}  // namespace kiseki::gateway
