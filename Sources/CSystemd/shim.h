#ifndef CSYSTEMD_SHIM_H
#define CSYSTEMD_SHIM_H
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

/* The peer of a Unix stream socket (SO_PEERCRED). `struct ucred` is only declared by glibc under
   _GNU_SOURCE, which the Swift Glibc module does not define, so the layout (fixed by the Linux ABI:
   pid, uid, gid) is spelled out here. Returns 0, or -1 with errno set. */
struct csystemd_peer_credentials {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

static inline int csystemd_get_peer_credentials(int fd, struct csystemd_peer_credentials *out) {
    socklen_t length = sizeof(*out);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &length);
}
#endif
