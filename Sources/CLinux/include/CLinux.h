#pragma once
#include <sys/types.h>

/// Moves the calling thread into the network namespace that `fd` refers to; returns 0 or -1
/// with errno set. Wraps setns(2), which glibc declares only under _GNU_SOURCE.
int particle_enter_network_namespace(int fd);

#include <stdint.h>

/// The epoll(7) event bits, as plain constants Swift can import.
enum {
    PARTICLE_EPOLL_IN = 0x001,
    PARTICLE_EPOLL_OUT = 0x004,
    PARTICLE_EPOLL_ERR = 0x008,
    PARTICLE_EPOLL_HUP = 0x010,
    PARTICLE_EPOLL_RDHUP = 0x2000,
};

/// `EPOLLET`, which does not fit the enum's int type.
static const uint32_t PARTICLE_EPOLL_ET = 1u << 31;

/// epoll_create1(EPOLL_CLOEXEC).
int particle_epoll_create(void);

/// epoll_ctl(EPOLL_CTL_ADD) with `events` and `token` as the event's data.
int particle_epoll_add(int epoll_fd, int fd, uint32_t events, uint64_t token);

/// epoll_ctl(EPOLL_CTL_DEL).
int particle_epoll_delete(int epoll_fd, int fd);

/// epoll_wait into two parallel arrays, so Swift never handles the packed `struct epoll_event`.
int particle_epoll_wait(int epoll_fd, uint32_t *events, uint64_t *tokens, int capacity, int timeout);

/// eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK).
int particle_eventfd(void);

/// Starts `path` with `argv` (NULL-terminated) in a new session, with standard input from
/// /dev/null, standard output and error appended to `log_path`, no other descriptors of this
/// process, and default signal handling. Returns the child's pid, or -1 with errno set.
///
/// Foundation's Process leaks an internal socket into the child, so a daemonizing child (QEMU
/// with -daemonize) keeps it open and Process never detects the exit.
pid_t particle_spawn(const char *path, char *const argv[], const char *log_path);

/// Opens a netlink socket subscribed to the kernel's process events (the proc connector,
/// CONFIG_PROC_EVENTS), so that the exit status of any process can be read, not only of a
/// child. Needs CAP_NET_ADMIN in the initial user and PID namespace. Returns the socket, or -1
/// with errno set.
int particle_process_events_open(void);

/// Reads one batch of process events from `fd` (blocking) and stores each process exit in the
/// parallel arrays: the process id and its wait status (as waitpid(2) reports it). Thread
/// exits are skipped. Returns the number stored, which may be 0, or -1 with errno set.
int particle_process_events_read(int fd, int32_t *pids, int32_t *statuses, int capacity);

/// The abbreviated name of signal `number` without the SIG prefix ("BUS"), or NULL for an
/// unknown number. Wraps sigabbrev_np(3), which glibc declares only under _GNU_SOURCE.
const char *particle_signal_name(int number);
