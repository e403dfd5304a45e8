#define _GNU_SOURCE
#include <sched.h>
#include "CLinux.h"

int particle_enter_network_namespace(int fd) {
    return setns(fd, CLONE_NEWNET);
}

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

int particle_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int particle_epoll_add(int epoll_fd, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event = { .events = events, .data = { .u64 = token } };
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

int particle_epoll_delete(int epoll_fd, int fd) {
    return epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int particle_epoll_wait(int epoll_fd, uint32_t *events, uint64_t *tokens, int capacity, int timeout) {
    struct epoll_event ready[256];
    if (capacity > 256) capacity = 256;
    int count = epoll_wait(epoll_fd, ready, capacity, timeout);
    for (int i = 0; i < count; i++) {
        events[i] = ready[i].events;
        tokens[i] = ready[i].data.u64;
    }
    return count;
}

int particle_eventfd(void) {
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}
