// Must not compile: the pipeline names no database backend (it is handed a Database).
#include "db/sqlite/sqlite_catalog.h"
