#include "core/loop/receive_delivery.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "core/base/check.h"

namespace socklab::loop {

bool ReceiveDelivery::Arm(Token token) {
  armed_ = true;
  token_ = token;
  return kept_bytes() > 0 || end_kept_;
}

bool ReceiveDelivery::Cancel() {
  if (!armed_) {
    return false;
  }
  armed_ = false;
  cancels_.push_back(token_);
  return true;
}

std::optional<Token> ReceiveDelivery::Abandon() {
  std::optional<Token> armed;
  if (armed_) {
    armed_ = false;
    armed = token_;
  }
  end_kept_ = false;
  if (flushing_) {
    head_ = kept_.size();  // Flush() frees it once the callback reading a chunk has returned
  } else {
    ReleaseKept();
  }
  return armed;
}

Token ReceiveDelivery::End() {
  SOCKLAB_CHECK(DeliversNow(), "a receive ended directly while completions were waiting");
  armed_ = false;
  return token_;
}

void ReceiveDelivery::Keep(const std::byte* data, size_t size) {
  // Appending may move the string under a chunk the handler is reading.
  SOCKLAB_CHECK(!flushing_, "receive bytes kept while a flush hands them over");
  kept_.append(reinterpret_cast<const char*>(data), size);
}

void ReceiveDelivery::KeepEnd(int res) {
  end_kept_ = true;
  end_res_ = res;
}

bool ReceiveDelivery::Flush(size_t max_chunk, absl::FunctionRef<void(const Release&)> deliver) {
  std::vector<Token> owed = std::move(cancels_);
  cancels_.clear();
  for (Token token : owed) {
    deliver(Release{token, -ECANCELED, false, nullptr});
  }
  if (armed_ && kept_bytes() > 0) {
    // The head moves before each callback, so an Arm() from it sees what is left; no byte is
    // kept meanwhile, so the string stays put while the callback reads it.
    flushing_ = true;
    while (kept_bytes() > 0 && armed_ && cancels_.empty()) {
      size_t at = head_;
      size_t n = std::min(kept_bytes(), max_chunk);
      head_ += n;
      deliver(Release{token_, static_cast<int>(n), true,
                      reinterpret_cast<const std::byte*>(kept_.data() + at)});
    }
    flushing_ = false;
    if (kept_bytes() == 0) {
      ReleaseKept();
    }
  }
  if (armed_ && end_kept_ && kept_bytes() == 0 && cancels_.empty()) {
    end_kept_ = false;
    armed_ = false;
    deliver(Release{token_, end_res_, false, nullptr});
  }
  return WantsKernelReceive();
}

std::vector<Token> ReceiveDelivery::TakeOwedCancels() {
  std::vector<Token> owed = std::move(cancels_);
  cancels_.clear();
  return owed;
}

void ReceiveDelivery::InheritOwedCancels(std::vector<Token> cancels) {
  cancels.insert(cancels.end(), cancels_.begin(), cancels_.end());
  cancels_ = std::move(cancels);
}

void ReceiveDelivery::ReleaseKept() {
  std::string().swap(kept_);
  head_ = 0;
}

}  // namespace socklab::loop
