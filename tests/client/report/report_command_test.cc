// `socklab load --json/--html` and `socklab report` as programs: the per-second series against
// the echo peer's own count, bad input, and the page as headless Chromium draws it offline.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/net/socket.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/client/load/echo_fixture.h"
#include "tests/client/load/socklab_process.h"

namespace socklab {
namespace {

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "/socklab_report_", getpid(), "_", name);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteAll(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Runs `socklab ARGS...`, bounded at 120 s (a hang fails, not the ctest TIMEOUT).
testing::ProcessOutcome Socklab(std::vector<std::string> args) {
  testing::SocklabProcess process(std::move(args));
  if (!process.available()) {
    ADD_FAILURE() << "socklab binary missing: set SOCKLAB_BIN_DIR";
    return {};
  }
  testing::ProcessOutcome outcome = process.Wait(120'000);
  EXPECT_FALSE(outcome.killed_at_deadline);
  return outcome;
}

uint64_t SumOf(const nlohmann::json& series, const char* field) {
  uint64_t sum = 0;
  for (const nlohmann::json& second : series) {
    sum += second[field].get<uint64_t>();
  }
  return sum;
}

// The per-second message and byte counts add up to the run's totals, and those to what the echo
// peer itself received (64-byte messages, no warmup: every byte sent is in the window).
TEST(ReportCommandTest, SeriesSumToTheTotalsTheEchoPeerCounted) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("count.json");
  const std::string html_path = TempPath("count.html");
  const testing::ProcessOutcome run =
      Socklab({"load", server.address().ToString(), "-c", "4", "-t", "1", "-n", "3000", "-s", "64",
               "--backend", "epoll", "--json", json_path, "--html", html_path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  EXPECT_EQ(j["messages"]["completed"], 3000);
  EXPECT_EQ(SumOf(j["series"], "messages"), 3000u);
  EXPECT_EQ(SumOf(j["series"], "bytes_sent"), j["bytes"]["sent"].get<uint64_t>());
  EXPECT_EQ(server.bytes_in(), 3000u * 64);
  EXPECT_EQ(j["bytes"]["sent"].get<uint64_t>(), server.bytes_in());
  // Each second's latency figures come from its own histogram: ordered within the second.
  for (const nlohmann::json& second : j["series"]) {
    if (second["messages"].get<uint64_t>() == 0) continue;
    EXPECT_LE(second["p50_ns"], second["p99_ns"]) << second;
    EXPECT_LE(second["p99_ns"], second["p99_9_ns"]) << second;
    EXPECT_LE(second["p99_9_ns"], second["max_ns"]) << second;
  }
  // The connects of the run: 4, each with a connect latency in the second it was made.
  EXPECT_EQ(SumOf(j["series"], "connects"), 4u);
  EXPECT_GT(j["series"][0]["connect_max_ns"].get<int64_t>(), 0);
  // The spectrum ends at 100% with every message counted.
  const nlohmann::json& spectrum = j["latency_spectrum"]["corrected"];
  ASSERT_FALSE(spectrum.empty());
  EXPECT_EQ(spectrum.back()[1], 100.0);
  EXPECT_EQ(spectrum.back()[2], 3000);
  EXPECT_EQ(spectrum.back()[0], j["latency_ns"]["max"]);
  EXPECT_TRUE(j["latency_spectrum"]["uncorrected"].is_null());  // closed loop
  const std::string html = ReadAll(html_path);
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  std::remove(json_path.c_str());
  std::remove(html_path.c_str());
}

// Against a port nobody listens on, every error is a refused connect: each second's by-class
// counts add up to its errors, and all seconds to the run's total.
TEST(ReportCommandTest, ErrorsByClassAddUpToTheErrors) {
  absl::StatusOr<UniqueFd> fd = CreateTcpSocket(AF_INET, Blocking::kBlocking);
  ASSERT_TRUE(fd.ok());
  ASSERT_TRUE(Bind(fd->get(), SocketAddress::Loopback(AF_INET, 0)).ok());
  const std::string target = LocalAddressOf(fd->get())->ToString();
  const std::string json_path = TempPath("refused.json");
  const testing::ProcessOutcome run = Socklab({"load", target, "-c", "2", "-t", "1", "-d", "1500ms",
                                               "--backend", "epoll", "--json", json_path});
  ASSERT_EQ(run.exit_code, 1) << run.err;
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  uint64_t refused = 0;
  for (const nlohmann::json& second : j["series"]) {
    uint64_t by_class = 0;
    for (const auto& [label, count] : second["errors_by_class"].items()) {
      EXPECT_EQ(label, "connect ECONNREFUSED");
      by_class += count.get<uint64_t>();
    }
    EXPECT_EQ(by_class, second["errors"].get<uint64_t>()) << second;
    refused += by_class;
  }
  EXPECT_GT(refused, 0u);
  EXPECT_EQ(refused,
            j["errors"]["total"].get<uint64_t>() + j["errors"]["warmup_total"].get<uint64_t>());
  std::remove(json_path.c_str());
}

// --repeat 3: three runs of the same load (the peer accepted three times the connections and
// echoed three times the messages), the figures' medians within their spreads, and the report
// of the median run.
TEST(ReportCommandTest, RepeatRunsTheLoadNTimesAndReportsTheMedianRun) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("repeat.json");
  const std::string html_path = TempPath("repeat.html");
  const testing::ProcessOutcome run =
      Socklab({"load", server.address().ToString(), "-c", "2", "-t", "1", "-n", "200", "-s", "64",
               "--repeat", "3", "--backend", "epoll", "--json", json_path, "--html", html_path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(server.WaitForAllClosed(30'000));
  EXPECT_EQ(server.accepted(), 6u);
  EXPECT_EQ(server.bytes_in(), 3u * 200 * 64);
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  ASSERT_TRUE(j.contains("repeat")) << j.dump();
  const nlohmann::json& repeat = j["repeat"];
  EXPECT_EQ(repeat["runs"], 3);
  ASSERT_EQ(repeat["per_run"].size(), 3u);
  for (const auto& [name, figure] : repeat["figures"].items()) {
    EXPECT_LE(figure["min"].get<double>(), figure["median"].get<double>()) << name;
    EXPECT_LE(figure["median"].get<double>(), figure["max"].get<double>()) << name;
  }
  // The report is the median run's: its throughput is the median of the three.
  const size_t median_run = repeat["median_run"].get<size_t>();
  EXPECT_DOUBLE_EQ(repeat["per_run"][median_run]["messages_per_s"].get<double>(),
                   repeat["figures"]["messages_per_s"]["median"].get<double>());
  EXPECT_DOUBLE_EQ(j["throughput"]["messages_per_s"].get<double>(),
                   repeat["figures"]["messages_per_s"]["median"].get<double>());
  EXPECT_EQ(j["messages"]["completed"], 200);
  EXPECT_NE(run.out.find("repeat      3 runs"), std::string::npos) << run.out;
  EXPECT_NE(ReadAll(html_path).find("repeated runs (--repeat)"), std::string::npos);
  std::remove(json_path.c_str());
  std::remove(html_path.c_str());
}

// --sweep connections=1,3: one run per value (the peer accepted 1 + 3 connections and echoed
// both runs' messages), a point per value, and the table on stdout.
TEST(ReportCommandTest, SweepMakesOneRunPerValue) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("sweep.json");
  const testing::ProcessOutcome run =
      Socklab({"load", server.address().ToString(), "-t", "1", "-n", "300", "-s", "64", "--sweep",
               "connections=1,3", "--backend", "epoll", "--json", json_path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(server.WaitForAllClosed(30'000));
  EXPECT_EQ(server.accepted(), 4u);
  EXPECT_EQ(server.bytes_in(), 2u * 300 * 64);
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  ASSERT_TRUE(j.contains("sweep")) << j.dump();
  EXPECT_EQ(j["sweep"]["parameter"], "connections");
  ASSERT_EQ(j["sweep"]["points"].size(), 2u);
  EXPECT_EQ(j["sweep"]["points"][0]["value"], 1);
  EXPECT_EQ(j["sweep"]["points"][1]["value"], 3);
  EXPECT_EQ(j["config"]["connections"], 3);  // the full report is the last value's run
  EXPECT_NE(run.out.find("sweep        connections"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("knee        "), std::string::npos) << run.out;
  std::remove(json_path.c_str());
}

// --sweep connections=1..4/3, the range form: three runs at 1, 2 and 4 connections (geometric:
// each step twice the last), which the peer saw as 1 + 2 + 4 connections.
TEST(ReportCommandTest, SweepRangeRunsEachGeometricValue) {
  testing::EchoFixture server;
  const std::string json_path = TempPath("sweep_range.json");
  const testing::ProcessOutcome run =
      Socklab({"load", server.address().ToString(), "-t", "1", "-n", "300", "-s", "64", "--sweep",
               "connections=1..4/3", "--backend", "epoll", "--json", json_path});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(server.WaitForAllClosed(30'000));
  EXPECT_EQ(server.accepted(), 7u);
  EXPECT_EQ(server.bytes_in(), 3u * 300 * 64);
  const nlohmann::json j = nlohmann::json::parse(ReadAll(json_path));
  ASSERT_EQ(j["sweep"]["points"].size(), 3u) << j["sweep"];
  EXPECT_EQ(j["sweep"]["points"][0]["value"], 1);
  EXPECT_EQ(j["sweep"]["points"][1]["value"], 2);
  EXPECT_EQ(j["sweep"]["points"][2]["value"], 4);
  EXPECT_NE(run.err.find("run 2 of 3 (connections=2)"), std::string::npos) << run.err;
  std::remove(json_path.c_str());
}

TEST(ReportCommandTest, BadSweepIsOneLineAndExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--sweep", "threads=1,2"},
           {"--sweep", "connections=1,x"},
           {"--sweep", "connections=0"},
           {"--sweep", "connections=1,2", "--repeat", "2"},
           {"--sweep", "rate=10k..1k/5"},
           {"--sweep", "rate=1k..10k"},
           {"--sweep", "rate=1k..10k/1"},
           {"--sweep", "rate=1k..10k/5", "--min-rate-ratio", "0.9"},
           {"--repeat", "0"}}) {
    std::vector<std::string> command = {"load", "127.0.0.1:1"};
    command.insert(command.end(), args.begin(), args.end());
    const testing::ProcessOutcome outcome = Socklab(command);
    EXPECT_EQ(outcome.exit_code, 2) << args[1] << ": " << outcome.err;
    EXPECT_EQ(outcome.err.find('\n'), outcome.err.size() - 1) << outcome.err;
  }
}

// Bad input: one line naming the problem, exit 2, and no report written.
TEST(ReportCommandTest, BadInputIsOneLineAndExitTwo) {
  const std::string not_json = TempPath("not.json");
  WriteAll(not_json, "socklab load: this is the text report\n");
  const std::string other_json = TempPath("other.json");
  WriteAll(other_json, R"({"connections": 3})");
  const std::string out = TempPath("bad.html");
  struct Case {
    std::vector<std::string> args;
    std::string named;  // what the line must name
  };
  const std::vector<Case> cases = {
      {{"report", TempPath("missing.json"), "-o", out}, "missing.json"},
      {{"report", not_json, "-o", out}, "is not JSON"},
      {{"report", other_json, "-o", out}, "not a socklab load result"},
  };
  for (const Case& c : cases) {
    const testing::ProcessOutcome outcome = Socklab(c.args);
    EXPECT_EQ(outcome.exit_code, 2) << c.named << ": " << outcome.err;
    EXPECT_EQ(outcome.err.find('\n'), outcome.err.size() - 1) << "not one line: " << outcome.err;
    EXPECT_NE(outcome.err.find(c.named), std::string::npos) << outcome.err;
    EXPECT_NE(access(out.c_str(), F_OK), 0) << c.named;
  }
  // An output that cannot be written, from a good input.
  testing::EchoFixture server;
  const std::string good = TempPath("good.json");
  ASSERT_EQ(Socklab({"load", server.address().ToString(), "-c", "1", "-t", "1", "-n", "10",
                     "--backend", "epoll", "--json", good})
                .exit_code,
            0);
  const testing::ProcessOutcome unwritable =
      Socklab({"report", good, "-o", TempPath("no-such-dir/report.html")});
  EXPECT_EQ(unwritable.exit_code, 2) << unwritable.err;
  EXPECT_NE(unwritable.err.find("no-such-dir"), std::string::npos) << unwritable.err;
  EXPECT_EQ(unwritable.err.find('\n'), unwritable.err.size() - 1) << unwritable.err;
  std::remove(not_json.c_str());
  std::remove(other_json.c_str());
  std::remove(good.c_str());
}

bool OnPath(const char* program) {
  return std::system(absl::StrCat("command -v ", program, " >/dev/null 2>&1").c_str()) == 0;
}

// A PPM (P6, 8-bit) decoded from `png` by ImageMagick's convert.
struct Picture {
  int width = 0;
  int height = 0;
  std::string rgb;
};

Picture Decode(const std::string& png) {
  Picture picture;
  const std::string ppm = TempPath("shot.ppm");
  if (std::system(absl::StrCat("convert ", png, " ppm:- > ", ppm).c_str()) != 0) {
    return picture;
  }
  std::ifstream in(ppm, std::ios::binary);
  std::string magic;
  int max = 0;
  in >> magic >> picture.width >> picture.height >> max;
  in.get();
  if (magic != "P6" || max != 255) {
    return {};
  }
  picture.rgb.resize(static_cast<size_t>(picture.width) * picture.height * 3);
  in.read(picture.rgb.data(), static_cast<std::streamsize>(picture.rgb.size()));
  std::remove(ppm.c_str());
  return picture;
}

// Pixels within 24 per channel of `rgb` (the lines' antialiased cores keep their colour).
size_t PixelsNear(const Picture& p, int rgb) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < p.rgb.size(); i += 3) {
    const int r = static_cast<unsigned char>(p.rgb[i]);
    const int g = static_cast<unsigned char>(p.rgb[i + 1]);
    const int b = static_cast<unsigned char>(p.rgb[i + 2]);
    if (std::abs(r - (rgb >> 16)) < 24 && std::abs(g - ((rgb >> 8) & 0xff)) < 24 &&
        std::abs(b - (rgb & 0xff)) < 24) {
      ++n;
    }
  }
  return n;
}

// Headless Chromium with every host name unresolvable, screenshotting file:// `html`.
Picture Screenshot(const std::string& html) {
  const std::string png = TempPath("shot.png");
  const std::string profile = TempPath("chromium-profile");
  const std::string command = absl::StrCat(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--host-resolver-rules='MAP * ~NOTFOUND' --user-data-dir=",
      profile, " --screenshot=", png, " --window-size=1200,3000 file://", html, " >/dev/null 2>&1");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::system(absl::StrCat("rm -rf ", profile).c_str());
  Picture picture = Decode(png);
  std::remove(png.c_str());
  return picture;
}

// The first two run colours of client/report (the first run's lines; the second figure's).
constexpr int kBlue = 0x1f77b4;
constexpr int kRed = 0xd62728;

// The report of a real open-loop run, drawn by Chromium with no name resolvable: the charts'
// lines are on the screenshot. The same page with the run's series and spectrum removed has
// (almost) none of those pixels, so the count tells drawn charts from a blank page.
TEST(ReportCommandTest, ChromiumDrawsTheChartsOffline) {
  if (!OnPath("chromium") || !OnPath("convert")) {
    GTEST_SKIP() << "chromium or convert is not installed (scripts/install-deps installs them)";
  }
  testing::EchoFixture server;
  const std::string json_path = TempPath("shot.json");
  const std::string html = TempPath("shot.html");
  ASSERT_EQ(Socklab({"load", server.address().ToString(), "-c", "4", "-t", "1", "-R", "2000", "-d",
                     "3s", "--backend", "epoll", "--states", "--json", json_path, "--html", html})
                .exit_code,
            0);
  const std::string page = ReadAll(html);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  const Picture drawn = Screenshot(html);
  ASSERT_GT(drawn.width, 0) << "no screenshot";
  // Blue: the throughput, p50, open connections, ESTABLISHED and corrected spectrum lines,
  // each most of 1000 px wide and 2 px thick, less what anti-aliasing blends away (as few as
  // 4,876 seen), against under 1,000 for the page without them (below).
  EXPECT_GT(PixelsNear(drawn, kBlue), 3000u);
  EXPECT_GT(PixelsNear(drawn, kRed), 1000u);

  nlohmann::json empty = nlohmann::json::parse(ReadAll(json_path));
  empty["series"] = nlohmann::json::array();
  empty["latency_spectrum"] = nullptr;
  const std::string empty_json = TempPath("empty.json");
  const std::string empty_html = TempPath("empty.html");
  WriteAll(empty_json, empty.dump());
  ASSERT_EQ(Socklab({"report", empty_json, "-o", empty_html}).exit_code, 0);
  const Picture blank = Screenshot(empty_html);
  ASSERT_GT(blank.width, 0) << "no screenshot";
  EXPECT_LT(PixelsNear(blank, kBlue), 1000u);
  for (const std::string& path : {json_path, html, empty_json, empty_html}) {
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace socklab
