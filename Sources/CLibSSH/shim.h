#pragma once
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>

/// Initializes a libssh callback struct; `ssh_callbacks_init` is a macro that Swift cannot call.
static inline void particle_ssh_init_server_callbacks(struct ssh_server_callbacks_struct *cb) {
    ssh_callbacks_init(cb);
}

static inline void particle_ssh_init_channel_callbacks(struct ssh_channel_callbacks_struct *cb) {
    ssh_callbacks_init(cb);
}
