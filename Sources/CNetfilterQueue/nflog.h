#ifndef CNETFILTERQUEUE_NFLOG_H
#define CNETFILTERQUEUE_NFLOG_H
#include "shim.h"
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

/*
 * Two more netfilter netlink subsystems over libmnl, in the style of shim.h: NFLOG (nfnetlink_log), which
 * the driver reads for the packets its kernel-only modes drop, and conntrack (ctnetlink), whose entries
 * carrying a fast-path epoch the driver deletes before it uses that epoch again. Every helper returns 0 or
 * a negative errno.
 */

/** Builds an NFLOG configuration message for `group` with `family` in `buf`. */
static inline struct nlmsghdr *cnful_put_config(char *buf, uint16_t group) {
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(group);
    return nlh;
}

/**
 * Binds NFLOG `group` to this socket and asks for the first `copy_range` bytes of each packet, sent at
 * once (queue threshold 1). Fails with -EBUSY when another socket holds the group.
 */
static inline int cnful_bind_group(struct mnl_socket *nl, uint16_t group, uint32_t copy_range) {
    char buf[512];
    struct nlmsghdr *nlh = cnful_put_config(buf, group);
    struct nfulnl_msg_config_cmd cmd = {.command = NFULNL_CFG_CMD_BIND};
    mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
    int result = cnfq_config_ack(nl, nlh);
    if (result < 0) {
        return result;
    }
    nlh = cnful_put_config(buf, group);
    struct nfulnl_msg_config_mode mode = {.copy_range = htonl(copy_range), .copy_mode = NFULNL_COPY_PACKET};
    mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
    mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
    return cnfq_config_ack(nl, nlh);
}

/** One logged packet as the driver needs it. `payload` and `prefix` point into the receive buffer. */
typedef struct cnful_packet {
    uint32_t payload_len;
    uint32_t indev;
    uint32_t outdev;
    uint8_t hook;
    const uint8_t *payload;
    /** NUL-terminated, or NULL when the rule set none. */
    const char *prefix;
} cnful_packet;

static inline int cnful_attr_cb(const struct nlattr *attr, void *data) {
    const struct nlattr **table = data;
    int type = mnl_attr_get_type(attr);
    if (mnl_attr_type_valid(attr, NFULA_MAX) < 0) {
        return MNL_CB_OK;
    }
    table[type] = attr;
    return MNL_CB_OK;
}

/**
 * Reads one netlink message of an NFLOG socket: 1 for a logged packet (filled in `out`), 0 for any other
 * message, a negative errno for an error message or one that does not parse.
 */
static inline int cnful_parse_message(const struct nlmsghdr *nlh, cnful_packet *out) {
    if (nlh->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *err = (const struct nlmsgerr *)mnl_nlmsg_get_payload(nlh);
        return err->error < 0 ? err->error : 0;
    }
    if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) {
        return 0;
    }
    const struct nlattr *attr[NFULA_MAX + 1];
    memset(attr, 0, sizeof attr);
    if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), cnful_attr_cb, attr) < 0) {
        return -EBADMSG;
    }
    memset(out, 0, sizeof *out);
    if (attr[NFULA_PACKET_HDR] != NULL) {
        const struct nfulnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFULA_PACKET_HDR]);
        out->hook = ph->hook;
    }
    out->indev = attr[NFULA_IFINDEX_INDEV] != NULL ? ntohl(mnl_attr_get_u32(attr[NFULA_IFINDEX_INDEV])) : 0;
    out->outdev = attr[NFULA_IFINDEX_OUTDEV] != NULL ? ntohl(mnl_attr_get_u32(attr[NFULA_IFINDEX_OUTDEV])) : 0;
    if (attr[NFULA_PREFIX] != NULL) {
        const char *prefix = mnl_attr_get_str(attr[NFULA_PREFIX]);
        uint16_t length = mnl_attr_get_payload_len(attr[NFULA_PREFIX]);
        out->prefix = (length > 0 && prefix[length - 1] == '\0') ? prefix : NULL;
    }
    if (attr[NFULA_PAYLOAD] != NULL) {
        out->payload = mnl_attr_get_payload(attr[NFULA_PAYLOAD]);
        out->payload_len = mnl_attr_get_payload_len(attr[NFULA_PAYLOAD]);
    }
    return 1;
}

/**
 * Deletes every conntrack entry (any family) whose mark, ANDed with `mask`, equals `mark`: the kernel's
 * filtered flush, one request. Opens and closes its own socket.
 */
static inline int cnct_flush_mark(uint32_t mark, uint32_t mask) {
    struct mnl_socket *nl = cnfq_open();
    if (nl == NULL) {
        return -errno;
    }
    char buf[512];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark));
    mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
    int result = cnfq_config_ack(nl, nlh);
    mnl_socket_close(nl);
    return result;
}

#endif
