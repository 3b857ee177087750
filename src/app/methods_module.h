// The media and methods module: the built-in methods with the libraries they need (OpenCV,
// FFmpeg, Tesseract) and the vector index backend (FAISS, OpenMP, BLAS) live in
// libsluice_methods.so beside the binary, loaded with dlopen the first time a command needs
// methods or indexes. Commands that do neither (--version, status, submit, jobs, results,
// run --fetch-only) never load it, so they start in milliseconds.
//
// Main thread.
#pragma once

#include "index/index_folder.h"
#include "methods/registry.h"
#include "methods/remote/remote_methods.h"

namespace sluice::app {

// Loads the module (once per process) and registers its methods. FailedPrecondition (cause
// "methods_module_missing") naming the path and the loader's error when it cannot be loaded.
Status RegisterBuiltinMethodsFromModule(methods::Registry& registry,
                                        const methods::remote::RemoteEnv& remote);

// The module's vector index backend (loading the module once per process). Errors as above.
Result<index::IndexBackend> IndexBackendFromModule();

}  // namespace sluice::app
