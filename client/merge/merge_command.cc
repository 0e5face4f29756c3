#include "client/merge/merge_command.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/load/load_report.h"
#include "client/load/output_file.h"
#include "client/merge/merge.h"
#include "client/merge/result_json.h"
#include "client/report/report_html.h"
#include "core/base/status.h"
#include "nlohmann/json.hpp"

namespace socklab::client {
namespace {

constexpr char kProgram[] = "socklab merge";

struct MergeFlags {
  std::vector<std::string> results;
  std::string output;
  std::string html;
};

int Run(const MergeFlags& flags) {
  std::vector<MergeInput> inputs;
  for (const std::string& path : flags.results) {
    absl::StatusOr<ReportRun> run = ReadReportRun(path);
    if (!run.ok()) {
      return cli::ReportFailure(kProgram, run.status());
    }
    absl::StatusOr<LoadResult> result = LoadResultFromJson(run->json);
    if (!result.ok()) {
      return cli::ReportFailure(
          kProgram, UsageError(absl::StrCat(path, ": ", result.status().message()),
                               "give the files agents wrote with socklab load --shard I/N "
                               "--run-id ID --json FILE"));
    }
    inputs.push_back({path, std::move(*result)});
  }
  // Opened before the work, as load's report files are.
  std::optional<OutputFile> json_file;
  std::optional<OutputFile> html_file;
  if (!flags.output.empty() && flags.output != "-") {
    absl::StatusOr<OutputFile> file = OutputFile::Open("-o", flags.output);
    if (!file.ok()) {
      return cli::ReportFailure(kProgram, file.status());
    }
    json_file.emplace(std::move(*file));
  }
  if (!flags.html.empty()) {
    absl::StatusOr<OutputFile> file = OutputFile::Open("--html", flags.html);
    if (!file.ok()) {
      return cli::ReportFailure(kProgram, file.status());
    }
    html_file.emplace(std::move(*file));
  }
  absl::StatusOr<MergedRun> merged = MergeResults(std::move(inputs));
  if (!merged.ok()) {
    return cli::ReportFailure(kProgram, merged.status());
  }
  FILE* text_out = flags.output == "-" ? stderr : stdout;
  std::fprintf(text_out, "%s%s%s", LoadConfigToText(merged->total.config).c_str(),
               MergeAgentsToText(*merged).c_str(), LoadSummaryToText(merged->total).c_str());
  std::fflush(text_out);
  nlohmann::json json = LoadResultToJson(merged->total);
  json["agents"] = MergeAgentsToJson(*merged);
  json["merge_notes"] = merged->notes;
  int code = 0;
  if (flags.output == "-") {
    std::printf("%s\n", json.dump(2).c_str());
  } else if (json_file.has_value()) {
    if (absl::Status written = json_file->WriteAndClose(json.dump(2) + "\n"); !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  if (html_file.has_value()) {
    const std::vector<ReportRun> runs = {
        {absl::StrCat("socklab merge (", merged->agents.size(), " agents)"), json}};
    if (absl::Status written = html_file->WriteAndClose(RenderReportHtml(runs)); !written.ok()) {
      code = cli::ReportFailure(kProgram, written);
    }
  }
  return code;
}

}  // namespace

cli::Command AddMergeCommand(CLI::App& app) {
  auto flags = std::make_shared<MergeFlags>();
  CLI::App* sub = app.add_subcommand(
      "merge",
      "Add the results of load agents (socklab load --shard I/N --run-id ID --json FILE) into "
      "one: histograms bucket by bucket, counters, errors, the series by wall clock");
  sub->add_option("results", flags->results, "The agents' RESULT.json files")->required();
  sub->add_option("-o,--output", flags->output,
                  "Write the merged result as load's JSON to FILE (- = stdout); 'socklab report' "
                  "draws it");
  sub->add_option("--html", flags->html, "Write the HTML report of the merged run to FILE");
  return {sub, [flags] { return Run(*flags); }};
}

}  // namespace socklab::client
