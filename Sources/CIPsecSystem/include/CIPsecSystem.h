/*
 * CIPsecSystem.h: the few Linux calls the Swift side cannot make itself, for IPsecSystem only.
 *
 * The Swift Glibc module is built without _GNU_SOURCE, so `struct ucred`, `accept4`,
 * `posix_spawn_file_actions_addclosefrom_np`, `POSIX_SPAWN_SETSID` and `pidfd_open` are missing, and the
 * wait-status macros (WIFEXITED, ...) are macros. Each function below wraps exactly one of those; all
 * return 0 (or a descriptor / pid) on success and a negative errno on failure, never touching the
 * caller's errno contract otherwise.
 */
#ifndef CIPSEC_SYSTEM_H
#define CIPSEC_SYSTEM_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/* How cipsec_spawn places the child in process groups. */
enum cipsec_spawn_group {
    CIPSEC_SPAWN_INHERIT_GROUP = 0,
    /* A new process group led by the child: a timeout can kill everything the child started. */
    CIPSEC_SPAWN_NEW_GROUP = 1,
    /* A new session (setsid): the child outlives this process's terminal and group. */
    CIPSEC_SPAWN_NEW_SESSION = 2,
};

/*
 * Starts `path` (no PATH search) with `argv` and `envp`.
 *
 * The child's descriptor i (0 <= i < count) is the parent's `descriptors[i]`; every descriptor of the
 * parent at `count` or above is closed in the child, whether or not it was opened close-on-exec. The
 * child's signal mask is empty and every signal has its default disposition, whatever this process
 * (or a thread of it) blocks or ignores. Returns 0 and stores the pid, or a negative errno.
 */
int cipsec_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                 const int32_t *descriptors, int32_t count, int32_t group);

/* pidfd_open(pid, 0): a descriptor that becomes readable when the child exits; -ENOSYS on old kernels. */
int cipsec_pidfd_open(pid_t pid);

/* Whether child `pid` has exited, without reaping it (waitid with WNOWAIT): 1 yes, 0 not yet (only
   when `block` is 0), or a negative errno. For kernels without pidfd_open. */
int cipsec_wait_exited_nowait(pid_t pid, int block);

/* pipe2(fds, O_CLOEXEC). */
int cipsec_pipe_cloexec(int fds[2]);

/* accept4(fd, NULL, NULL, SOCK_CLOEXEC [| SOCK_NONBLOCK when `nonblocking`]): the connection is never
   inherited by a child. */
int cipsec_accept_cloexec(int fd, int nonblocking);

/* The peer of a connected Unix socket (SO_PEERCRED). */
int cipsec_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

/* A pidfd (close-on-exec) of the peer of a connected Unix socket as the kernel recorded it at connect
   time, or for a listening peer at listen time (SO_PEERPIDFD, Linux 6.5); a negative errno: -ENOPROTOOPT
   before 6.5, -ESRCH or -EINVAL on kernels that give no pidfd for a peer that has been reaped. */
int cipsec_peer_pidfd(int fd);

/* The supplementary groups of the peer of a connected Unix socket as the kernel recorded them at
   connect time (SO_PEERGROUPS, Linux 4.13): their count (at most `capacity` are stored), or a negative
   errno; -ERANGE with `*needed` set when `capacity` is too small. */
int cipsec_peer_groups(int fd, uint32_t *groups, int32_t capacity, int32_t *needed);

/* The wait-status macros of <sys/wait.h>. */
int cipsec_wait_exited(int status);
int cipsec_wait_exit_code(int status);
int cipsec_wait_signaled(int status);
int cipsec_wait_signal(int status);

/* Sets `thread`'s name (at most 15 bytes are kept); errors are ignored. */
void cipsec_set_thread_name(pthread_t thread, const char *name);

/* malloc_trim(0): hands the heap's free pages back to the kernel, in every arena. Returns 1 when some
   memory was released, 0 when none could be. */
int cipsec_release_free_heap(void);

#endif
