#include "core/stats/hdr_codec.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace socklab {
namespace {

// HdrHistogram's V2 cookies; 0x10 in the low byte marks the ZigZag LEB128 word size.
constexpr uint32_t kEncodingCookie = 0x1c849303 | 0x10;
constexpr uint32_t kCompressedCookie = 0x1c849304 | 0x10;
constexpr int kHeaderBytes = 40;
constexpr int32_t kSignificantDigits = 2;
constexpr int64_t kLowestDiscernible = 1;
// The highest value Histogram's 4736 buckets cover with HdrHistogram's bucket arithmetic.
constexpr int64_t kHighestTrackable = Histogram::kMaxTrackable - 1;

void PutBig(std::string* out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

uint64_t GetBig(absl::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<uint8_t>(in[at + i]);
  }
  return value;
}

// HdrHistogram's ZigZagEncoding.putLong: LEB128 of the ZigZag value, at most 9 bytes, the 9th
// carrying its 8 bits whole.
void PutZigZag(std::string* out, int64_t value) {
  uint64_t v = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((v >> 7) == 0) {
      out->push_back(static_cast<char>(v));
      return;
    }
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads one ZigZag LEB128 value at *at; false when the payload ends inside it.
bool GetZigZag(absl::string_view in, size_t* at, int64_t* value) {
  uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (*at >= in.size()) {
      return false;
    }
    const uint8_t byte = static_cast<uint8_t>(in[(*at)++]);
    if (i == 8) {
      v |= uint64_t{byte} << 56;
      break;
    }
    v |= uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) == 0) {
      break;
    }
  }
  *value = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  return true;
}

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("not an HdrHistogram V2 histogram: ", what));
}

}  // namespace

std::string EncodeHistogramV2(const Histogram& histogram) {
  int limit = 0;  // the counts up to the highest non-empty bucket, as HdrHistogram writes them
  for (int i = Histogram::BucketCount() - 1; i >= 0; --i) {
    if (histogram.CountAtBucket(i) != 0) {
      limit = i + 1;
      break;
    }
  }
  std::string payload;
  for (int i = 0; i < limit;) {
    const uint64_t count = histogram.CountAtBucket(i);
    if (count != 0) {
      PutZigZag(&payload, static_cast<int64_t>(count));
      ++i;
      continue;
    }
    int64_t zeros = 0;
    while (i < limit && histogram.CountAtBucket(i) == 0) {
      ++zeros;
      ++i;
    }
    PutZigZag(&payload, -zeros);
  }
  std::string out;
  PutBig(&out, kEncodingCookie, 4);
  PutBig(&out, payload.size(), 4);
  PutBig(&out, 0, 4);  // normalizing index offset
  PutBig(&out, kSignificantDigits, 4);
  PutBig(&out, kLowestDiscernible, 8);
  PutBig(&out, kHighestTrackable, 8);
  PutBig(&out, std::bit_cast<uint64_t>(1.0), 8);
  out += payload;
  return out;
}

std::string CompressEncoding(const std::string& encoding) {
  uLongf length = compressBound(encoding.size());
  std::string deflated(length, '\0');
  // compress() fails only for want of memory or room; compressBound gives the room.
  compress(reinterpret_cast<Bytef*>(deflated.data()), &length,
           reinterpret_cast<const Bytef*>(encoding.data()), encoding.size());
  deflated.resize(length);
  std::string out;
  PutBig(&out, kCompressedCookie, 4);
  PutBig(&out, deflated.size(), 4);
  return out + deflated;
}

std::string EncodeHistogram(const Histogram& histogram) {
  return absl::Base64Escape(CompressEncoding(EncodeHistogramV2(histogram)));
}

absl::StatusOr<Histogram> DecodeHistogram(absl::string_view base64) {
  std::string compressed;
  if (!absl::Base64Unescape(base64, &compressed)) {
    return Bad("the text is not base64");
  }
  if (compressed.size() < 8 || GetBig(compressed, 0, 4) != kCompressedCookie) {
    return Bad("no V2 compressed cookie (0x1c849314)");
  }
  const uint64_t deflated = GetBig(compressed, 4, 4);
  if (deflated > compressed.size() - 8) {
    return Bad("the compressed length runs past the end");
  }
  // The encoding is at most the header and 9 bytes per bucket.
  std::string encoding(kHeaderBytes + 9 * Histogram::BucketCount() + 16, '\0');
  uLongf length = encoding.size();
  if (uncompress(reinterpret_cast<Bytef*>(encoding.data()), &length,
                 reinterpret_cast<const Bytef*>(compressed.data() + 8), deflated) != Z_OK) {
    return Bad("the zlib stream does not inflate (or is larger than socklab's layout allows)");
  }
  encoding.resize(length);
  if (encoding.size() < kHeaderBytes || GetBig(encoding, 0, 4) != kEncodingCookie) {
    return Bad("no V2 encoding cookie (0x1c849313)");
  }
  const uint64_t payload_bytes = GetBig(encoding, 4, 4);
  const int64_t significant = static_cast<int32_t>(GetBig(encoding, 12, 4));
  const int64_t lowest = static_cast<int64_t>(GetBig(encoding, 16, 8));
  const double ratio = std::bit_cast<double>(GetBig(encoding, 32, 8));
  if (GetBig(encoding, 8, 4) != 0 || significant != kSignificantDigits ||
      lowest != kLowestDiscernible || ratio != 1.0) {
    return Bad(absl::StrCat("layout of ", significant, " significant digits, lowest ", lowest,
                            ", ratio ", ratio,
                            "; socklab reads 2 digits, lowest 1, ratio 1, no index offset"));
  }
  if (payload_bytes != encoding.size() - kHeaderBytes) {
    return Bad("the payload length does not match the data");
  }
  const absl::string_view payload = absl::string_view(encoding).substr(kHeaderBytes);
  Histogram histogram;
  int64_t index = 0;
  for (size_t at = 0; at < payload.size();) {
    int64_t value = 0;
    if (!GetZigZag(payload, &at, &value)) {
      return Bad("a count is cut off");
    }
    if (value < 0) {
      index += -value;
      continue;
    }
    // Buckets past socklab's range (a larger highest trackable value) go into its top bucket.
    histogram.RecordBucket(static_cast<int>(std::min<int64_t>(index, Histogram::BucketCount() - 1)),
                           static_cast<uint64_t>(value));
    ++index;
  }
  return histogram;
}

}  // namespace socklab
