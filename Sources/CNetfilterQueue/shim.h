#ifndef CNETFILTERQUEUE_SHIM_H
#define CNETFILTERQUEUE_SHIM_H
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
/* <netinet/in.h> MUST precede any <linux/*.h>: otherwise the kernel's in_addr clashes with glibc's. */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/*
 * Small helpers over libnetfilter_queue's libmnl API (nfq_nlmsg_*). They exist because the Swift
 * side cannot use the function-like macros and enum arithmetic of the netlink headers, and because
 * one C call per queued packet (parse) and per verdict (build + send) keeps the hot path cheap.
 * Every helper returns 0 or a negative errno; the Swift wrappers turn that into typed errors.
 */

/** Verdict values, so Swift needs no <linux/netfilter.h> macro. */
static inline uint32_t cnfq_verdict_accept(void) { return NF_ACCEPT; }
static inline uint32_t cnfq_verdict_drop(void) { return NF_DROP; }

/** One queued packet as the driver needs it. `payload` points into the receive buffer. */
typedef struct cnfq_packet {
    uint32_t id;
    uint32_t mark;
    uint32_t payload_len;
    uint32_t has_mark;
    /** Interface indices the packet came in on / goes out through (0: none, e.g. outdev at INPUT). */
    uint32_t indev;
    uint32_t outdev;
    uint8_t hook;
    const uint8_t *payload;
} cnfq_packet;

/**
 * Reads one netlink message of a queue socket.
 * Returns 1 for a queued packet (filled in `out`), 0 for any other message (ack, done),
 * a negative errno for a netlink error message or a message that does not parse.
 */
static inline int cnfq_parse_message(const struct nlmsghdr *nlh, cnfq_packet *out) {
    if (nlh->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *err = (const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh);
        return err->error < 0 ? err->error : 0;
    }
    if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
        return 0;
    }
    struct nlattr *attr[NFQA_MAX + 1];
    memset(attr, 0, sizeof attr);
    if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL) {
        return -EBADMSG;
    }
    const struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
    out->id = ntohl(ph->packet_id);
    out->hook = ph->hook;
    out->has_mark = attr[NFQA_MARK] != NULL;
    out->mark = out->has_mark ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;
    out->indev = attr[NFQA_IFINDEX_INDEV] != NULL ? ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV])) : 0;
    out->outdev = attr[NFQA_IFINDEX_OUTDEV] != NULL ? ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV])) : 0;
    if (attr[NFQA_PAYLOAD] != NULL) {
        out->payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
        out->payload_len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
    } else {
        out->payload = NULL;
        out->payload_len = 0;
    }
    return 1;
}

/** The next message in a receive buffer, or NULL when `*remaining` bytes hold no complete one. */
static inline const struct nlmsghdr *cnfq_next_message(const struct nlmsghdr *nlh, int *remaining) {
    const struct nlmsghdr *next = mnl_nlmsg_next(nlh, remaining);
    return mnl_nlmsg_ok(next, *remaining) ? next : NULL;
}

/** The first message in a receive buffer of `length` bytes, or NULL. */
static inline const struct nlmsghdr *cnfq_first_message(const void *buffer, int length) {
    const struct nlmsghdr *nlh = (const struct nlmsghdr *)buffer;
    return mnl_nlmsg_ok(nlh, length) ? nlh : NULL;
}

/**
 * Sends one verdict: NFQNL_MSG_VERDICT for `id` alone, or with `batch` NFQNL_MSG_VERDICT_BATCH for
 * every packet of the queue up to and including `id`. With `set_mark`, the packet mark becomes `mark`.
 */
static inline int cnfq_send_verdict(struct mnl_socket *nl, uint32_t queue, int batch, uint32_t id,
                                    uint32_t verdict, int set_mark, uint32_t mark) {
    char buf[256];
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue);
    nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
    if (set_mark) {
        nfq_nlmsg_verdict_put_mark(nlh, mark);
    }
    return mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/** Sends a configuration message with NLM_F_ACK and waits for the kernel's answer. */
static inline int cnfq_config_ack(struct mnl_socket *nl, struct nlmsghdr *nlh) {
    char buf[8192];
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        return -errno;
    }
    ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
    if (n < 0) {
        return -errno;
    }
    if (mnl_cb_run(buf, (size_t)n, 0, mnl_socket_get_portid(nl), NULL, NULL) < 0) {
        return errno ? -errno : -EPROTO;
    }
    return 0;
}

/** Binds `queue` to this socket (one socket per queue). */
static inline int cnfq_bind_queue(struct mnl_socket *nl, uint32_t queue) {
    char buf[512];
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    return cnfq_config_ack(nl, nlh);
}

/**
 * Sets the copy range (bytes of each packet copied to user space), the kernel queue length and
 * the queue flags (`gso`: hand GSO super-packets over unsegmented; never fail-open: the driver
 * fails closed).
 */
static inline int cnfq_set_params(struct mnl_socket *nl, uint32_t queue, uint32_t copy_range, uint32_t max_len,
                                  int gso) {
    char buf[512];
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)copy_range);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, max_len);
    uint32_t flags = gso ? NFQA_CFG_F_GSO : 0;
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
    return cnfq_config_ack(nl, nlh);
}

/**
 * Sizes the receive buffer (SO_RCVBUFFORCE as root, else SO_RCVBUF), turns off ENOBUFS reports
 * (the kernel counts the drops; /proc/net/netfilter/nfnetlink_queue shows them) and sets a receive
 * timeout so that the reader thread notices a stop request. Returns the effective buffer size.
 */
static inline int cnfq_tune_socket(struct mnl_socket *nl, int rcvbuf, int timeout_ms) {
    int fd = mnl_socket_get_fd(nl);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    int one = 1;
    (void)setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
        return -errno;
    }
    int got = 0;
    socklen_t len = sizeof got;
    (void)getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
    return got;
}

/** Opens and binds a netfilter netlink socket; NULL with errno set on failure. */
static inline struct mnl_socket *cnfq_open(void) {
    /* Close-on-exec: a child process (iptables-restore, a plugin host) must not hold the queue. */
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (nl == NULL) {
        return NULL;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int saved = errno;
        mnl_socket_close(nl);
        errno = saved;
        return NULL;
    }
    return nl;
}

/** recv() on the queue socket; returns bytes or a negative errno. `nonblocking` adds MSG_DONTWAIT. */
static inline ssize_t cnfq_receive(struct mnl_socket *nl, void *buffer, size_t size, int nonblocking) {
    ssize_t n = recv(mnl_socket_get_fd(nl), buffer, size, nonblocking ? MSG_DONTWAIT : 0);
    return n < 0 ? -errno : n;
}

/* recvmmsg(2) through syscall(2): its declaration and struct mmsghdr need _GNU_SOURCE, which a
   clang module shared with Swift's Glibc must not define; the layout below is the kernel's. */
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>
struct cnfq_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
#define CNFQ_MAX_BATCH 64
#define CNFQ_MSG_WAITFORONE 0x10000

/**
 * Receives up to `count` (at most 64) netlink messages into consecutive buffers of `size` bytes:
 * blocks for the first one (up to the socket's receive timeout), then takes only what is already
 * queued — one system call per burst instead of one per packet plus an EAGAIN probe.
 * Returns the number of messages, their lengths in `lengths` (a truncated message reports its full
 * length, larger than `size`), or a negative errno.
 */
static inline int cnfq_receive_batch(struct mnl_socket *nl, void *buffers, size_t size, unsigned count,
                                     uint32_t *lengths) {
    struct cnfq_mmsghdr messages[CNFQ_MAX_BATCH];
    struct iovec vectors[CNFQ_MAX_BATCH];
    if (count > CNFQ_MAX_BATCH) {
        count = CNFQ_MAX_BATCH;
    }
    for (unsigned i = 0; i < count; i++) {
        vectors[i].iov_base = (char *)buffers + (size_t)i * size;
        vectors[i].iov_len = size;
        memset(&messages[i], 0, sizeof messages[i]);
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    long n = syscall(SYS_recvmmsg, mnl_socket_get_fd(nl), messages, count, CNFQ_MSG_WAITFORONE, NULL);
    if (n < 0) {
        return -errno;
    }
    for (long i = 0; i < n; i++) {
        lengths[i] = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) ? (uint32_t)size + 1 : messages[i].msg_len;
    }
    return (int)n;
}

#endif
