// Output of kiseki-profile: a human table, one JSON document per run, and the
// protocols × shapes matrix in the layout of the reference documents.
#pragma once

#include <string>
#include <vector>

#include "tools/profile/runner.h"

namespace kiseki::profile {

std::string to_json(const RunResult& r);
std::string table_header();
std::string table_row(const RunResult& r);
// "| Protocol | put-heavy | get-heavy | mixed |" with op/s · MiB/s, then p99 (µs).
std::string matrix_tables(const std::vector<RunResult>& runs);

}  // namespace kiseki::profile
