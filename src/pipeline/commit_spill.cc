#include "pipeline/commit_spill.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "common/file_io.h"
#include "common/json_text.h"
#include "common/strings.h"

namespace sluice::pipeline {

namespace json = boost::json;

namespace {

constexpr size_t kBufferBytes = size_t{1} << 18;

// One row per line, a JSON array: ["s", url, method, version, step_key, ok, output, artifacts,
// cause, details, millis] or ["c", step_key, sha256, method, version, output, artifacts],
// written straight into the buffer.
void AppendStepLine(std::string& out, const db::StepRow& row) {
  out += "[\"s\",";
  for (const std::string* text : {&row.url, &row.method}) {
    AppendJsonString(out, *text);
    out += ',';
  }
  StrAppend(out, row.version, ",");
  AppendJsonString(out, row.step_key);
  out += row.ok ? ",true," : ",false,";
  for (const std::string* text :
       {&row.output_json, &row.artifacts_json, &row.failure_cause, &row.failure_details}) {
    AppendJsonString(out, *text);
    out += ',';
  }
  AppendSerializedJson(out, json::value(row.millis));
  out += "]\n";
}

void AppendCacheLine(std::string& out, const db::CachedStep& entry) {
  out += "[\"c\",";
  for (const std::string* text : {&entry.step_key, &entry.item_sha256, &entry.method}) {
    AppendJsonString(out, *text);
    out += ',';
  }
  StrAppend(out, entry.version, ",");
  AppendJsonString(out, entry.output_json);
  out += ',';
  AppendJsonString(out, entry.artifacts_json);
  out += "]\n";
}

std::string Text(const json::value& value) { return std::string(value.as_string()); }

}  // namespace

Result<std::unique_ptr<CommitSpill>> CommitSpill::Create(const std::filesystem::path& dir) {
  std::string name = (dir / "commit-spill.XXXXXX").string();
  int fd = mkstemp(name.data());
  if (fd < 0) return ErrnoStatus("creating a commit spill file in", dir.string());
  unlink(name.c_str());  // nameless: gone with the process, however it ends
  std::FILE* file = fdopen(fd, "w+b");
  if (!file) {
    Status status = ErrnoStatus("opening a commit spill file in", dir.string());
    close(fd);
    return status;
  }
  return std::unique_ptr<CommitSpill>(new CommitSpill(file, dir));
}

CommitSpill::CommitSpill(std::FILE* file, std::filesystem::path dir)
    : file_(file), dir_(std::move(dir)) {}

CommitSpill::~CommitSpill() { std::fclose(file_); }

Status CommitSpill::FlushBuffer() {
  if (buffer_.empty()) return absl::OkStatus();
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size() ||
      std::fflush(file_) != 0)
    return ErrnoStatus("writing the commit spill file in", dir_.string());
  buffer_.clear();
  return absl::OkStatus();
}

Status CommitSpill::Append(const std::vector<db::StepRow>& steps,
                           const std::vector<db::CachedStep>& cache, bool replacing) {
  if (reading_) {
    if (std::fseek(file_, 0, SEEK_END) != 0)
      return ErrnoStatus("seeking the commit spill file in", dir_.string());
    reading_ = false;
  }
  size_t before = buffer_.size();
  for (const db::StepRow& row : steps) {
    if (replacing) replaced_[{row.url, row.method}] = line_;
    AppendStepLine(buffer_, row);
    ++line_;
  }
  for (const db::CachedStep& entry : cache) {
    AppendCacheLine(buffer_, entry);
    ++line_;
  }
  rows_ += static_cast<int64_t>(steps.size() + cache.size());
  bytes_ += static_cast<int64_t>(buffer_.size() - before);
  return buffer_.size() >= kBufferBytes ? FlushBuffer() : absl::OkStatus();
}

Status CommitSpill::Rewind() {
  SLUICE_RETURN_IF_ERROR(FlushBuffer());
  if (std::fseek(file_, 0, SEEK_SET) != 0)
    return ErrnoStatus("seeking the commit spill file in", dir_.string());
  reading_ = true;
  read_line_ = 0;
  return absl::OkStatus();
}

Result<bool> CommitSpill::Next(std::vector<db::StepRow>& steps,
                               std::vector<db::CachedStep>& cache) {
  steps.clear();
  cache.clear();
  if (!reading_) SLUICE_RETURN_IF_ERROR(Rewind());
  char* text = nullptr;
  size_t capacity = 0;
  struct Freed {
    char*& text;
    ~Freed() { free(text); }
  } freed{text};
  while (steps.size() + cache.size() < kBatchRows) {
    errno = 0;
    ssize_t length = getline(&text, &capacity, file_);
    if (length < 0) {
      if (errno != 0) return ErrnoStatus("reading the commit spill file in", dir_.string());
      break;
    }
    int64_t line = read_line_++;
    boost::system::error_code ec;
    // The row's strings are copied out at once: its document lives in one arena.
    unsigned char arena_bytes[4096];
    json::monotonic_resource arena(arena_bytes, sizeof arena_bytes);
    json::value value =
        json::parse(std::string_view(text, static_cast<size_t>(length)), ec, &arena);
    const json::array* row = value.if_array();
    auto bad = [&] {
      return absl::DataLossError(
          StrCat("the commit spill file in ", dir_.string(), " has a bad row at line ", line + 1));
    };
    if (ec || !row || row->empty() || !row->at(0).is_string()) return bad();
    try {
      if (row->at(0).as_string() == "s" && row->size() == 11) {
        db::StepRow step{.url = Text(row->at(1)),
                         .method = Text(row->at(2)),
                         .version = static_cast<int>(row->at(3).to_number<int64_t>()),
                         .step_key = Text(row->at(4)),
                         .ok = row->at(5).as_bool(),
                         .output_json = Text(row->at(6)),
                         .artifacts_json = Text(row->at(7)),
                         .failure_cause = Text(row->at(8)),
                         .failure_details = Text(row->at(9)),
                         .millis = row->at(10).to_number<double>()};
        if (!replaced_.empty()) {
          auto later = replaced_.find({step.url, step.method});
          if (later != replaced_.end() && later->second > line) continue;
        }
        steps.push_back(std::move(step));
      } else if (row->at(0).as_string() == "c" && row->size() == 7) {
        cache.push_back({.step_key = Text(row->at(1)),
                         .item_sha256 = Text(row->at(2)),
                         .method = Text(row->at(3)),
                         .version = static_cast<int>(row->at(4).to_number<int64_t>()),
                         .output_json = Text(row->at(5)),
                         .artifacts_json = Text(row->at(6))});
      } else {
        return bad();
      }
    } catch (const std::exception&) {
      return bad();
    }
  }
  return !steps.empty() || !cache.empty();
}

}  // namespace sluice::pipeline
