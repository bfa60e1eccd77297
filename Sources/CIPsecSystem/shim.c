#define _GNU_SOURCE
#include "CIPsecSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(sizeof(struct ucred) == 3 * sizeof(uint32_t), "struct ucred is pid, uid, gid");

int cipsec_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 const int32_t *descriptors, int32_t count, int32_t group) {
    /* Move every source out of the target range first (close-on-exec copies), so that placing one
       descriptor can never overwrite another that is still to be placed. */
    int moved[count > 0 ? count : 1];
    int result = 0;
    for (int32_t i = 0; i < count; i++) moved[i] = -1;
    for (int32_t i = 0; i < count; i++) {
        if (descriptors[i] < 0) continue;
        moved[i] = fcntl(descriptors[i], F_DUPFD_CLOEXEC, count);
        if (moved[i] < 0) {
            result = -errno;
            goto close_moved;
        }
    }

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    if ((result = -posix_spawn_file_actions_init(&actions)) != 0) goto close_moved;
    if ((result = -posix_spawnattr_init(&attributes)) != 0) goto destroy_actions;

    for (int32_t i = 0; i < count && result == 0; i++) {
        result = moved[i] < 0 ? -posix_spawn_file_actions_addopen(&actions, i, "/dev/null", O_RDWR, 0)
                              : -posix_spawn_file_actions_adddup2(&actions, moved[i], i);
    }
    if (result == 0) result = -posix_spawn_file_actions_addclosefrom_np(&actions, count);

    /* SIGKILL and SIGSTOP cannot have another disposition, and sigaction refuses them. */
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (group == CIPSEC_SPAWN_NEW_GROUP) flags |= POSIX_SPAWN_SETPGROUP;
    if (group == CIPSEC_SPAWN_NEW_SESSION) flags |= POSIX_SPAWN_SETSID;
    if (result == 0) result = -posix_spawnattr_setsigmask(&attributes, &empty);
    if (result == 0) result = -posix_spawnattr_setsigdefault(&attributes, &all);
    if (result == 0) result = -posix_spawnattr_setpgroup(&attributes, 0);
    if (result == 0) result = -posix_spawnattr_setflags(&attributes, flags);
    if (result == 0) result = -posix_spawn(pid, path, &actions, &attributes, argv, envp);

    posix_spawnattr_destroy(&attributes);
destroy_actions:
    posix_spawn_file_actions_destroy(&actions);
close_moved:
    for (int32_t i = 0; i < count; i++) {
        if (moved[i] >= 0) close(moved[i]);
    }
    return result;
}

int cipsec_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
#else
    (void)pid;
    return -ENOSYS;
#endif
}

int cipsec_wait_exited_nowait(pid_t pid, int block) {
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT | (block ? 0 : WNOHANG)) != 0) return -errno;
    return info.si_pid == pid ? 1 : 0;
}

int cipsec_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) != 0 ? -errno : 0; }

int cipsec_accept_cloexec(int fd, int nonblocking) {
    int connection = accept4(fd, NULL, NULL, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
    return connection < 0 ? -errno : connection;
}

int cipsec_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -errno;
    *pid = credentials.pid;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int cipsec_peer_pidfd(int fd) {
    int pidfd = -1;
    socklen_t length = sizeof(pidfd);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) != 0) return -errno;
    return pidfd;
}

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

_Static_assert(sizeof(gid_t) == sizeof(uint32_t), "gid_t is 32 bits");

int cipsec_peer_groups(int fd, uint32_t *groups, int32_t capacity, int32_t *needed) {
    socklen_t length = (socklen_t)(capacity > 0 ? capacity : 0) * sizeof(gid_t);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &length) != 0) {
        int error = errno;
        if (error == ERANGE) *needed = (int32_t)(length / sizeof(gid_t));
        return -error;
    }
    return (int)(length / sizeof(gid_t));
}

int cipsec_wait_exited(int status) { return WIFEXITED(status); }
int cipsec_wait_exit_code(int status) { return WEXITSTATUS(status); }
int cipsec_wait_signaled(int status) { return WIFSIGNALED(status); }
int cipsec_wait_signal(int status) { return WTERMSIG(status); }

void cipsec_set_thread_name(pthread_t thread, const char *name) {
    char shortened[16];
    strncpy(shortened, name, sizeof(shortened) - 1);
    shortened[sizeof(shortened) - 1] = 0;
    (void)pthread_setname_np(thread, shortened);
}

int cipsec_release_free_heap(void) {
    return malloc_trim(0);
}
