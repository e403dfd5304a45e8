#pragma once
#include <sqlite3.h>

/// `SQLITE_TRANSIENT` is a macro over a cast function pointer that Swift cannot import.
static inline void (*particle_sqlite_transient(void))(void *) {
    return SQLITE_TRANSIENT;
}
