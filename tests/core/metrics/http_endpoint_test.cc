#include "core/metrics/http_endpoint.h"

#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "core/base/clock.h"
#include "core/metrics/exposition.h"
#include "core/net/socket.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/prometheus_text.h"

namespace socklab::metrics {
namespace {

using ::socklab::testing::HttpBody;
using ::socklab::testing::HttpGet;
using ::socklab::testing::HttpHeader;
using ::socklab::testing::HttpStatus;
using ::testing::HasSubstr;

SocketAddress AnyPort() { return *SocketAddress::Parse("127.0.0.1:0"); }

TEST(HttpEndpointTest, ServesEachScrapeFreshOverARealSocket) {
  std::atomic<int> renders{0};
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      HttpEndpoint::Start(AnyPort(), [&renders] {
        Exposition out;
        out.Begin("demo_scrapes_total", MetricType::kCounter, "Scrapes so far.");
        out.Sample(static_cast<uint64_t>(++renders));
        return out.text();
      });
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  ASSERT_NE((*endpoint)->address().port(), 0);
  for (int i = 1; i <= 3; ++i) {
    absl::StatusOr<std::string> response = HttpGet((*endpoint)->address(), "/metrics");
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(HttpStatus(*response), 200) << *response;
    EXPECT_EQ(HttpHeader(*response, "Content-Type"), kContentType);
    const std::string body = HttpBody(*response);
    EXPECT_EQ(HttpHeader(*response, "Content-Length"), std::to_string(body.size()));
    absl::StatusOr<testing::PromScrape> scrape = testing::ParsePrometheusText(body);
    ASSERT_TRUE(scrape.ok()) << scrape.status();
    EXPECT_EQ(scrape->Sum("demo_scrapes_total"), i);
  }
}

TEST(HttpEndpointTest, AnswersOtherPathsAndMethodsWithTheirCodes) {
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      HttpEndpoint::Start(AnyPort(), [] { return std::string("x 1\n"); });
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  absl::StatusOr<std::string> other = HttpGet((*endpoint)->address(), "/");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(HttpStatus(*other), 404);
  absl::StatusOr<std::string> post = HttpGet((*endpoint)->address(), "/metrics", "POST");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(HttpStatus(*post), 405);
  absl::StatusOr<std::string> head = HttpGet((*endpoint)->address(), "/metrics", "HEAD");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(HttpStatus(*head), 200);
  EXPECT_EQ(HttpBody(*head), "");
  absl::StatusOr<std::string> query = HttpGet((*endpoint)->address(), "/metrics?x=1");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(HttpBody(*query), "x 1\n");
}

// A scraper that connects and never sends must neither stop the endpoint from shutting down
// nor, once it is dropped, the next scrape.
TEST(HttpEndpointTest, SilentScraperDoesNotHoldShutdown) {
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      HttpEndpoint::Start(AnyPort(), [] { return std::string("x 1\n"); });
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  absl::StatusOr<UniqueFd> silent = ConnectTcp((*endpoint)->address());
  ASSERT_TRUE(silent.ok());
  // The endpoint is now inside its request wait for the silent one; the destructor must end
  // it without waiting out the request timeout (5 s): generous bound, "must not hang" only.
  const int64_t start = MonotonicNanos();
  endpoint->reset();
  EXPECT_LT(MonotonicNanos() - start, 4'000'000'000);
}

TEST(HttpEndpointTest, BusyPortIsAnErrorNamingTheAddress) {
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> first =
      HttpEndpoint::Start(AnyPort(), [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> second =
      HttpEndpoint::Start((*first)->address(), [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr((*first)->address().ToString()));
  EXPECT_THAT(second.status().message(), HasSubstr("EADDRINUSE"));
}

TEST(HttpEndpointTest, ParsesMetricsAddresses) {
  EXPECT_TRUE(ParseMetricsAddress("--metrics", "127.0.0.1:9464").ok());
  EXPECT_TRUE(ParseMetricsAddress("--metrics", "[::1]:9464").ok());
  absl::StatusOr<SocketAddress> bad = ParseMetricsAddress("--metrics", "9464x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--metrics '9464x'"));
}

}  // namespace
}  // namespace socklab::metrics
