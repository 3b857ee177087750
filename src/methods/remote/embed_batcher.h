// EmbedBatcher: gathers the embedding inputs of items analysed at the same time into one
// provider request ("process in bulk, not one image at a time"): a batch leaves when it holds
// `max_inputs` inputs or its first input has waited `max_wait`, whichever comes first. Each item
// gets its own vector back. When a whole batch is refused for its content (a bad input:
// InvalidArgument and other non-retryable errors), every input is sent again alone, so only the
// bad ones fail; retryable failures (the provider's gate has already waited them out) fail the
// whole batch.
//
// Cost: the request's calls, retries, tokens and time are charged to the batch's first input;
// every input counts itself in Cost::inputs, so the ledger shows requests and inputs.
//
// Event-loop only (single-threaded), like the asynchronous methods that use it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "methods/remote/provider.h"

namespace sluice::methods::remote {

struct EmbedBatchLimits {
  size_t max_inputs = 32;  // 1: every input alone
  std::chrono::milliseconds max_wait{20};
};

// One input's embedding and what it is charged.
struct BatchedEmbedding {
  std::vector<float> vector;
  Cost cost;
  size_t batch_size = 1;  // inputs in the request that carried it
};

template <class Input>
class EmbedBatcher {
 public:
  // Sends one request for `inputs`; its reply holds one vector per input, in order.
  using Send = std::function<asio::awaitable<Result<EmbedReply>>(std::vector<Input>)>;

  // The embedding of `input`, sent with the other inputs given under the same `key` (provider
  // and model) meanwhile. The Send of a batch's first input sends the batch.
  asio::awaitable<Result<BatchedEmbedding>> Embed(std::string key, Input input,
                                                  EmbedBatchLimits limits, Send send) {
    asio::any_io_executor executor = co_await asio::this_coro::executor;
    auto entry = std::make_shared<Entry>(executor, std::move(input));
    Pending& pending = pending_[key];
    if (pending.entries.empty()) {
      pending.send = std::move(send);
      asio::co_spawn(executor, FlushAfter(key, pending.generation, limits.max_wait),
                     asio::detached);
    }
    pending.entries.push_back(entry);
    if (pending.entries.size() >= std::max<size_t>(1, limits.max_inputs)) {
      asio::co_spawn(executor, Flush(Take(key)), asio::detached);
    }
    if (!entry->result) {
      boost::system::error_code ignored;
      co_await entry->done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    co_return std::move(*entry->result);
  }

 private:
  struct Entry {
    Entry(asio::any_io_executor executor, Input in)
        : input(std::move(in)), done(executor, std::chrono::steady_clock::time_point::max()) {}
    Input input;
    std::optional<Result<BatchedEmbedding>> result;
    asio::steady_timer done;  // cancelled when `result` is set
  };
  struct Batch {
    std::vector<std::shared_ptr<Entry>> entries;
    Send send;
  };
  struct Pending {
    std::vector<std::shared_ptr<Entry>> entries;
    Send send;
    uint64_t generation = 0;  // bumped by every Take: a timer of an earlier batch does nothing
  };

  Batch Take(const std::string& key) {
    Pending& pending = pending_[key];
    ++pending.generation;
    return Batch{std::exchange(pending.entries, {}), std::exchange(pending.send, {})};
  }

  asio::awaitable<void> FlushAfter(std::string key, uint64_t generation,
                                   std::chrono::milliseconds wait) {
    asio::steady_timer timer(co_await asio::this_coro::executor, wait);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    Pending& pending = pending_[key];
    if (pending.generation == generation && !pending.entries.empty()) co_await Flush(Take(key));
  }

  static void Finish(Entry& entry, Result<BatchedEmbedding> result) {
    entry.result = std::move(result);
    entry.done.cancel();
  }

  static asio::awaitable<void> Flush(Batch batch) {
    std::vector<Input> inputs;
    for (const auto& entry : batch.entries) inputs.push_back(entry->input);
    size_t count = inputs.size();
    Result<EmbedReply> reply = co_await batch.send(std::move(inputs));
    if (reply.ok() && reply->vectors.size() != count) {
      reply = Failure(absl::StatusCode::kInternal, "bad_reply",
                      StrCat("the provider returned ", reply->vectors.size(), " embeddings for ",
                             count, " inputs"));
    }
    if (!reply.ok() && count > 1 && !IsRetryable(reply.status())) {
      // Refused for its content: find the bad inputs by sending each alone.
      for (const auto& entry : batch.entries) {
        Batch alone{{entry}, batch.send};
        co_await Flush(std::move(alone));
      }
      co_return;
    }
    for (size_t i = 0; i < count; ++i) {
      Entry& entry = *batch.entries[i];
      if (!reply.ok()) {
        Finish(entry, reply.status());
        continue;
      }
      BatchedEmbedding embedded{.vector = std::move(reply->vectors[i]), .batch_size = count};
      if (i == 0) embedded.cost = reply->usage;
      embedded.cost.inputs = 1;
      Finish(entry, std::move(embedded));
    }
  }

  std::map<std::string, Pending> pending_;  // by key
};

}  // namespace sluice::methods::remote
