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

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

extern char **environ;

pid_t particle_spawn(const char *path, char *const argv[], const char *log_path) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);

    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);

    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    posix_spawnattr_setsigmask(&attributes, &empty);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(
        &attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    pid_t pid = -1;
    int status = posix_spawn(&pid, path, &actions, &attributes, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (status != 0) {
        errno = status;
        return -1;
    }
    return pid;
}

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int particle_process_events_open(void) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (fd < 0) return -1;
    // Exits of other processes arrive too; a larger buffer makes an overflow (ENOBUFS) rarer.
    int size = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct sockaddr_nl address = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    struct {
        struct nlmsghdr header;
        struct cn_msg message;
        enum proc_cn_mcast_op operation;
    } __attribute__((packed)) request;
    memset(&request, 0, sizeof request);
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = NLMSG_DONE;
    request.message.id.idx = CN_IDX_PROC;
    request.message.id.val = CN_VAL_PROC;
    request.message.len = sizeof(enum proc_cn_mcast_op);
    request.operation = PROC_CN_MCAST_LISTEN;
    if (send(fd, &request, sizeof request, 0) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int particle_process_events_read(int fd, int32_t *pids, int32_t *statuses, int capacity) {
    char buffer[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    ssize_t length = recv(fd, buffer, sizeof buffer, 0);
    if (length < 0) return -1;
    int count = 0;
    for (struct nlmsghdr *header = (struct nlmsghdr *)buffer; NLMSG_OK(header, length) && count < capacity;
         header = NLMSG_NEXT(header, length)) {
        if (header->nlmsg_type == NLMSG_ERROR || header->nlmsg_type == NLMSG_NOOP) continue;
        struct cn_msg *message = NLMSG_DATA(header);
        if (message->len < sizeof(struct proc_event)) continue;
        struct proc_event *event = (struct proc_event *)message->data;
        if (event->what != PROC_EVENT_EXIT) continue;
        // Only the end of a whole process (its main thread), not of one of its threads.
        if (event->event_data.exit.process_pid != event->event_data.exit.process_tgid) continue;
        pids[count] = event->event_data.exit.process_tgid;
        statuses[count] = (int32_t)event->event_data.exit.exit_code;
        count++;
    }
    return count;
}

const char *particle_signal_name(int number) {
    return sigabbrev_np(number);
}
