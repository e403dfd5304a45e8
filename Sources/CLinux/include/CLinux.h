#pragma once
#include <sys/types.h>

/// Moves the calling thread into the network namespace that `fd` refers to; returns 0 or -1
/// with errno set. Wraps setns(2), which glibc declares only under _GNU_SOURCE.
int particle_enter_network_namespace(int fd);
