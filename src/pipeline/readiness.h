// Whether the parts a set run needs answer right now: what `/readyz` and `sluice doctor` ask.
//
// Event-loop only; the database is asked on the blocking pool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/status.h"
#include "db/catalog.h"
#include "storage/blob_store.h"

namespace sluice::pipeline {

// OK when the database answers a query on its job queue; its error otherwise.
boost::asio::awaitable<Status> DatabaseAnswers(db::Database& db,
                                               boost::asio::thread_pool& blocking);
// OK when the store answers a lookup (an absent key is an answer); its error otherwise.
boost::asio::awaitable<Status> StoreAnswers(storage::BlobStore& store);

}  // namespace sluice::pipeline
