// The built-in methods, local and remote: the one place that lists them (DESIGN.md §4: explicit
// registration). Its own target, above every method backend, so that the method interface
// (methods/registry.h) names none of them.
#pragma once

#include "index/index_folder.h"
#include "methods/registry.h"
#include "methods/remote/remote_methods.h"

namespace sluice::methods {

// Registers every built-in method. `remote` configures the remote methods; by default they
// resolve params against the default provider configuration (no config file) and cannot run
// (no live providers). AlreadyExists when one is registered already.
Status RegisterBuiltinMethods(Registry& registry, const remote::RemoteEnv& remote = {});

// What the media and methods module (libsluice_methods.so) offers a binary that loads it:
// found with dlsym under kBuiltinMethodsModuleEntry, a function returning this table.
struct BuiltinMethodsModule {
  Status (*register_builtin)(Registry& registry, const remote::RemoteEnv& remote);
  // The vector index backend (FAISS, with OpenMP and BLAS: loaded with the module, not at start).
  index::IndexBackend (*index_backend)();
};
inline constexpr char kBuiltinMethodsModuleEntry[] = "sluice_builtin_methods_module";

}  // namespace sluice::methods
