#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/stats/histogram.h"

namespace socklab {

// socklab's Histogram in HdrHistogram's own interchange forms, so HdrHistogram's tools (the
// Java and C libraries, HistogramLogAnalyzer, hdr-plot) read socklab's latencies, and agents'
// histograms add up exactly.
//
// The layouts are the same, bucket for bucket: an HdrHistogram with lowestDiscernibleValue 1
// (unit magnitude 0) and 2 significant digits has subBucketCount 2^ceil(log2(2 * 10^2)) = 256,
// so values below 256 are counted one by one and each power of two above in 128 linear
// sub-buckets, exactly Histogram's layout; its counts index of a value equals
// Histogram::BucketIndexOf. With highestTrackableValue 2^43 - 1 it has 36 buckets, (36 + 1) x 128
// = 4736 counts, Histogram::BucketCount(). Nothing is re-binned: an encoding round trip keeps
// every count (min, max and mean become the bucket-level figures HdrHistogram itself reports).
//
// The forms (HdrHistogram's "V2" encoding, all integers big-endian):
//   encoding:   int32 cookie 0x1c849313 | int32 payload bytes | int32 normalizing index offset
//               (0) | int32 significant digits (2) | int64 lowest discernible value (1) |
//               int64 highest trackable value | float64 integer-to-double ratio (1.0) | payload:
//               the counts up to the max's bucket, each a ZigZag LEB128 (at most 9 bytes, the
//               9th carrying 8 bits), a run of N empty buckets written as -N.
//   compressed: int32 cookie 0x1c849314 | int32 length | zlib (deflate) stream of the encoding.
//   text:       the compressed form in base64, as an interval log line carries it.
//
// Pure functions; thread affinity: none.

// The compressed form in base64 ("HISTFAAAA..."): what an interval log line and socklab's JSON
// carry.
std::string EncodeHistogram(const Histogram& histogram);

// The inverse of EncodeHistogram; also reads what HdrHistogram writes for the same layout
// (2 significant digits, lowest discernible value 1, ratio 1.0, any highest trackable value:
// counts past socklab's range go into its top bucket, as Record() clamps). Other layouts, a
// bad cookie, base64, zlib stream or payload: InvalidArgument naming what was wrong.
absl::StatusOr<Histogram> DecodeHistogram(absl::string_view base64);

// The uncompressed V2 encoding and the compressed form, as bytes (for tests and tools that
// want them without base64).
std::string EncodeHistogramV2(const Histogram& histogram);
std::string CompressEncoding(const std::string& encoding);

}  // namespace socklab
