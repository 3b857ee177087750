// Must not compile: the pipeline names no storage backend (it is handed a BlobStore).
#include "storage/s3/s3_blob_store.h"
