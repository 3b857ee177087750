// Must not compile: the method interface names no method backend (builtin.h lists them).
#include "methods/remote/provider.h"
