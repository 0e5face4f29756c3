#include "client/report/report_command.h"

#include <memory>
#include <string>
#include <vector>

#include "client/load/output_file.h"
#include "client/report/report_html.h"
#include "core/base/status.h"

namespace socklab::client {
namespace {

constexpr char kProgram[] = "socklab report";

struct ReportFlags {
  std::vector<std::string> runs;
  std::string output;
};

int Run(const ReportFlags& flags) {
  std::vector<ReportRun> runs;
  for (const std::string& path : flags.runs) {
    absl::StatusOr<ReportRun> run = ReadReportRun(path);
    if (!run.ok()) {
      return cli::ReportFailure(kProgram, run.status());
    }
    runs.push_back(std::move(*run));
  }
  absl::StatusOr<OutputFile> file = OutputFile::Open("-o", flags.output);
  if (!file.ok()) {
    return cli::ReportFailure(kProgram, file.status());
  }
  if (absl::Status written = file->WriteAndClose(RenderReportHtml(runs)); !written.ok()) {
    return cli::ReportFailure(kProgram, written);
  }
  return 0;
}

}  // namespace

cli::Command AddReportCommand(CLI::App& app) {
  auto flags = std::make_shared<ReportFlags>();
  CLI::App* sub = app.add_subcommand(
      "report",
      "HTML report (charts, figures, comparison) of runs saved with 'socklab load --json FILE'");
  sub->add_option("runs", flags->runs,
                  "RUN.json files; with several, the series are overlaid and the figures compared "
                  "with the first")
      ->required();
  sub->add_option("-o,--output", flags->output, "The HTML file to write (self-contained)")
      ->required();
  return {sub, [flags] { return Run(*flags); }};
}

}  // namespace socklab::client
